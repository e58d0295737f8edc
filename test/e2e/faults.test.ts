/**
 * Faults against a real sshd: the connection killed mid-stream, sshd restarted, sshd
 * down for a while. What happens to running jobs and to the next tool call.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailToEnd } from "../support/mcp.js"
import { until } from "../support/poll.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

interface Job { job_id: string; status: string; exit_status: number | null }

describeWithSshd("faults", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  /** The job's record, from whichever page of ssh_list_jobs holds it (persistent jobs other suites left are listed too). */
  const jobStatus = async (jobId: string) => {
    for (let cursor: number | null = 0; cursor !== null;) {
      const r = await call(server, "ssh_list_jobs", { cursor })
      const found = (r.data.jobs as Array<Job>).find((j) => j.job_id === jobId)
      if (found !== undefined) return found
      cursor = r.data.next_cursor as number | null
    }
    throw new Error(`${jobId} is not listed`)
  }
  const waitStatus = async (jobId: string, ms: number) => {
    const until = Date.now() + ms
    for (;;) {
      const j = await jobStatus(jobId)
      if (j.status !== "running" || Date.now() > until) return j
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--reconnect-delay-sec", "0.2", "--reconnect-retries", "5"] })
    const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("killed connection: the running job is reported lost, and the next call reconnects", async () => {
    const s = await call(server, "ssh_spawn", { command: "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done" })
    const jobId = s.data.job_id as string
    await call(server, "ssh_tail", { job_id: jobId, wait_ms: 2000, min_lines: 1 })
    // Kill the sshd processes serving our connection (children of this test's listener).
    await sshd.killConnections()
    const job = await waitStatus(jobId, 10_000)
    expect(job.status).toBe("lost")
    expect(job.exit_status).toBeNull()
    const r = await call(server, "ssh_exec", { command: "echo back" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.stdout).toBe("back\n")
    // Reconnected: in the background, or by the call itself if it came first.
    expect(server.stderr().match(/connected box: /g)?.length ?? 0).toBeGreaterThanOrEqual(2)
    await sshd.exec(`pkill -f 'while true; do i=' || true`)
  })

  it("sshd down for a while: calls fail at once with HOST_DOWN and the reconnect's state, jobs say host_connected: false, and it all goes on once it is back", async () => {
    const durable = await call(server, "ssh_spawn", { command: "for i in $(seq 1 30); do echo $i; sleep 0.2; done", persistent: true })
    expect(durable.isError, durable.text).toBe(false)
    const jobId = durable.data.job_id as string
    const first = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 5000, min_lines: 1 })
    await sshd.goDown()
    // Once the server has seen the drop (a call that comes before that finds a connection that
    // is not known dead yet, and a command sent over it ends "lost": it may have run).
    await until("the drop seen", async () =>
      (await jobStatus(jobId) as unknown as Record<string, unknown>).host_connected === false ? true : undefined)
    // Before: the call waited through the reconnect's backoff (6 to 13 s with the defaults).
    const r = await call(server, "ssh_exec", { command: "echo up again" })
    expect(r.isError, r.text).toBe(true)
    expect(r.text).toMatch(/^HOST_DOWN: box is down since \S+: reconnect attempt \d of 6 failed \(.+\); the next is at \S+ \(in \d+ s\)/)
    // The persistent job goes on over there; its results say the host is down, and a tail does not wait for lines that cannot come.
    const tail = await call(server, "ssh_tail", { job_id: jobId, since_line_no: first.data.next_line_no, wait_ms: 45_000 })
    expect(tail.data).toMatchObject({ status: "running", host_connected: false })
    expect((await jobStatus(jobId) as unknown as Record<string, unknown>).host_connected).toBe(false)
    await sshd.restart()
    let back = r
    for (let i = 0; i < 100 && back.isError; i++) {
      await new Promise((res) => setTimeout(res, 200))
      back = await call(server, "ssh_exec", { command: "echo up again" })
    }
    expect(back.isError, back.text).toBe(false)
    expect(back.data.stdout).toBe("up again\n")
    // Nothing of its output was lost meanwhile.
    const { lines, last } = await tailToEnd(server, jobId, 0, 10_000)
    expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    expect(last.host_connected).toBeUndefined()
    await call(server, "ssh_remove_job", { job_id: jobId })
  })

  it("sshd down longer than a follower's retries: a tmux job goes on over there and is followed again, no line lost", async () => {
    const s = await call(server, "ssh_spawn", { command: "for i in $(seq 1 30); do echo $i; sleep 0.5; done", tmux: true })
    expect(s.isError, s.text).toBe(false)
    const jobId = s.data.job_id as string
    await call(server, "ssh_tail", { job_id: jobId, wait_ms: 5000, min_lines: 1 })
    await sshd.goDown()
    // Before: the follower gave up after 15 quick failures (about as many seconds) and the job was lost for good.
    await new Promise((res) => setTimeout(res, 22_000))
    expect((await jobStatus(jobId) as unknown as Record<string, unknown>)).toMatchObject({ status: "running", host_connected: false })
    await sshd.restart()
    // A call reconnects (the background reconnect has given up by now); the follower sees it and resumes.
    let back = await call(server, "ssh_exec", { command: "echo up again" })
    for (let i = 0; i < 100 && back.isError; i++) {
      await new Promise((res) => setTimeout(res, 200))
      back = await call(server, "ssh_exec", { command: "echo up again" })
    }
    expect(back.isError, back.text).toBe(false)
    const { lines, last } = await tailToEnd(server, jobId, 0, 20_000)
    expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    await call(server, "ssh_remove_job", { job_id: jobId })
  }, 90_000)

  it("sshd restarted: a running job goes on, and new calls work", async () => {
    const s = await call(server, "ssh_spawn", { command: "for i in 1 2 3 4; do echo $i; sleep 0.5; done" })
    await sshd.restart()
    const job = await waitStatus(s.data.job_id as string, 10_000)
    expect(job).toMatchObject({ status: "exited", exit_status: 0 })
    const r = await call(server, "ssh_exec", { command: "echo fine" })
    expect(r.data.stdout).toBe("fine\n")
  })

  it("wrote nothing but JSON-RPC to stdout", () => {
    expect(server.transportErrors).toEqual([])
  })
})

describeWithSshd("network blocked for 20 s", (getSshd) => {
  it("running and persistent jobs lose no line, and a call made meanwhile completes once traffic flows", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({
      args: ["--known-hosts", sshd.knownHostsPath, "--host", `box=${sshd.host}:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath]
    })
    try {
      const count = "for i in $(seq 1 60); do echo $i; sleep 0.5; done"
      const plain = await call(server, "ssh_spawn", { command: count })
      const durable = await call(server, "ssh_spawn", { command: count, persistent: true })
      expect(plain.isError, plain.text).toBe(false)
      expect(durable.isError, durable.text).toBe(false)
      await new Promise((r) => setTimeout(r, 2000))
      await sshd.blockNetwork()
      const blockedAt = Date.now()
      const during = call(server, "ssh_exec", { command: "echo through" }, { timeout: 120_000 })
      await new Promise((r) => setTimeout(r, 20_000))
      await sshd.unblockNetwork()
      const r = await during
      expect(r.isError, r.text).toBe(false)
      expect(r.data.stdout).toBe("through\n")
      expect(Date.now() - blockedAt).toBeGreaterThanOrEqual(20_000)
      for (const job of [plain, durable]) {
        const { lines, last } = await tailToEnd(server, job.data.job_id as string, 0, 10_000)
        expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
        expect(last).toMatchObject({ status: "exited", exit_status: 0 })
      }
      await call(server, "ssh_remove_job", { job_id: durable.data.job_id })
    } finally {
      await server.close()
    }
  })
}, { netns: true })
