/**
 * A job's life as an agent meets it, against a real sshd, over each stdio client (the v1
 * client checks every result against its outputSchema): a job that outlives its dropped
 * connection is found again by its process group (detached, signalled through its PID)
 * or reported lost, and a signal that reaches nothing is an error; a prompt without a pty
 * is seen; a reaped job leaves a tombstone.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer, tailToEnd } from "../support/mcp.js"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"

interface Job { job_id: string; status: string; exit_status: number | null; end_reason: string | null; ended_at: string | null }

const token = () => 500_000 + Math.floor(Math.random() * 99_999)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

for (const m of CLIENT_MATRIX.filter((c) => c.transport === "stdio")) describeWithSshd(`job lifecycle over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  /** Every listed job, all pages (persistent jobs other suites left on the host are listed too). */
  const jobs = async () => {
    const all: Array<Job> = []
    for (let cursor: number | null = 0; cursor !== null;) {
      const r = await call(server, "ssh_list_jobs", { cursor })
      all.push(...(r.data.jobs as Array<Job>))
      cursor = r.data.next_cursor as number | null
    }
    return all
  }
  /** Polls ssh_list_jobs until `done` holds for the job (or `ms` passed); the job as last seen. */
  const waitJob = async (jobId: string, done: (j: Job) => boolean, ms = 20_000) => {
    const until = Date.now() + ms
    for (;;) {
      const j = (await jobs()).find((x) => x.job_id === jobId)!
      if (done(j) || Date.now() > until) return j
      await sleep(200)
    }
  }

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: ["--known-hosts", sshd.knownHostsPath, "--reconnect-delay-sec", "0.2", "--reconnect-retries", "5", "--sudo-with-login-password"]
    })
    // Connected by password: sudo gets it too (sudo_with_login_password).
    const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, password: sshd.user.password, alias: "box" })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("after a dropped connection, a job still running is detached and signalled through its PID; the others are lost", async () => {
    const t = token()
    // Prints nothing, no pty: sshd's end neither hangs it up nor breaks a pipe under it (the server on port 18080).
    const quiet = await call(server, "ssh_spawn", { command: `sleep ${t}` })
    // Writes on: the broken pipe kills it.
    const chatty = await call(server, "ssh_spawn", { command: "while :; do echo tick; sleep 0.2; done" })
    // A pty: its hang-up kills it.
    const tty = await call(server, "ssh_spawn", { command: `sleep ${t + 1}`, pty: true })
    for (const s of [quiet, chatty, tty]) expect(s.isError, s.text).toBe(false)
    await call(server, "ssh_tail", { job_id: chatty.data.job_id, wait_ms: 5000, min_lines: 1 })
    await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t + 1}$" >/dev/null && break; sleep 0.1; done`)

    await sshd.killConnections()

    const found = await waitJob(quiet.data.job_id as string, (j) => j.status === "detached")
    expect(found).toMatchObject({ status: "detached", end_reason: "connection_lost", exit_status: null, ended_at: null })
    for (const s of [chatty, tty]) {
      // (Found a moment before its next write, the chatty one may be detached for a moment.)
      expect(await waitJob(s.data.job_id as string, (j) => j.status === "lost")).toMatchObject({ status: "lost", end_reason: "connection_lost" })
    }
    expect((await sshd.exec(`pgrep -f "^sleep ${t}$"`)).stdout.trim()).not.toBe("")
    // Its output is gone with the channel: a tail says so at once.
    const tail = await call(server, "ssh_tail", { job_id: quiet.data.job_id, wait_ms: 30_000 })
    expect(tail.isError, tail.text).toBe(false)
    expect(tail.data).toMatchObject({ status: "detached", line_nos: "", text: "" })
    expect(tail.data.host_connected).toBeUndefined()

    const stopped = await call(server, "ssh_signal", { job_id: quiet.data.job_id, signal: "TERM" })
    expect(stopped.isError, stopped.text).toBe(false)
    expect(stopped.data).toMatchObject({ sent_via_channel: false, sent_via_pid: true, job: { status: "killed", signal: "TERM" } })
    expect((await jobs()).find((j) => j.job_id === quiet.data.job_id)).toMatchObject({ status: "killed", end_reason: "signal" })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    expect(await waitNoProcess(sshd, `sleep ${t + 1}`)).toBe("")

    // Nothing is left of the lost one: a signal to it is an error, never a success.
    const none = await call(server, "ssh_signal", { job_id: chatty.data.job_id, signal: "TERM" })
    expect(none.isError).toBe(true)
    expect(none.text).toMatch(/^SIGNAL_NOT_DELIVERED: /)
    const ended = await call(server, "ssh_signal", { job_id: quiet.data.job_id, signal: "KILL" })
    expect(ended.isError).toBe(true)
    expect(ended.text).toMatch(/^SIGNAL_NOT_DELIVERED: job '.*' has already ended \(killed, SIGTERM\)/)
  })

  it("a job blocked reading stdin without a pty is awaiting input, with no prompt when it printed none", async () => {
    const s = await call(server, "ssh_spawn", { command: "read -r answer; echo \"got $answer\"" })
    const jobId = s.data.job_id as string
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 30_000 })
    expect(r.data).toMatchObject({ status: "running", awaiting_input: true, prompt: null, partial: "" })
    const listed = (await jobs()).find((j) => j.job_id === jobId)
    expect(listed).toMatchObject({ awaiting_input: true, prompt: null })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "yes\n" })
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toEqual(["got yes"])
    expect(last).toMatchObject({ status: "exited", awaiting_input: false })

    // Under sudo too: the probe runs in the root shell.
    const root = await call(server, "ssh_spawn", { command: "read -r answer; echo \"root got $answer\"", sudo: true })
    expect(root.isError, root.text).toBe(false)
    const rootWait = await call(server, "ssh_tail", { job_id: root.data.job_id, wait_ms: 30_000 })
    expect(rootWait.data).toMatchObject({ status: "running", awaiting_input: true, prompt: null })
    await call(server, "ssh_send_stdin", { job_id: root.data.job_id, data: "ok\n" })
    expect((await tailToEnd(server, root.data.job_id as string)).lines.map((l) => l.text)).toEqual(["root got ok"])

    // ssh_exec hands such a command over at once, waiting at its prompt.
    const e = await call(server, "ssh_exec", { command: "python3 -c 'print(input().upper())'", background_after_ms: 30_000 })
    expect(e.data).toMatchObject({ status: "running", awaiting_input: true, prompt: null })
    await call(server, "ssh_send_stdin", { job_id: e.data.job_id, data: "quiet\n" })
    expect((await tailToEnd(server, e.data.job_id as string)).lines.map((l) => l.text)).toEqual(["QUIET"])
  })

  it("a job reaped after reap_finished_after_sec leaves a tombstone", async () => {
    const reaping = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: ["--known-hosts", sshd.knownHostsPath, "--reap-finished-after-sec", "1"]
    })
    try {
      await call(reaping, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
      const s = await call(reaping, "ssh_spawn", { command: "echo one; echo two >&2; exit 3" })
      const jobId = s.data.job_id as string
      expect((await tailToEnd(reaping, jobId)).last).toMatchObject({ status: "exited", exit_status: 3 })
      // The first page carries the tombstones (persistent jobs other suites left on the host are listed too).
      const ours = (list: unknown) => ((list as Array<string> | undefined) ?? []).filter((t) => t.startsWith(`${jobId} `))
      let reaped: Array<string> = []
      for (let i = 0; i < 50 && reaped.length === 0; i++) {
        reaped = ours((await call(reaping, "ssh_list_jobs", {})).data.reaped)
        if (reaped.length === 0) await sleep(200)
      }
      expect(reaped).toEqual([expect.stringMatching(new RegExp(`^${jobId} on box: exited 3 at \\S+Z, 2 lines$`))])
      // No longer a job: not on any page.
      for (let cursor: number | null = 0; cursor !== null;) {
        const page = (await call(reaping, "ssh_list_jobs", { cursor })).data
        expect((page.jobs as Array<{ job_id: string }>).map((j) => j.job_id)).not.toContain(jobId)
        cursor = page.next_cursor as number | null
      }
      const gone = await call(reaping, "ssh_tail", { job_id: jobId })
      expect(gone.isError).toBe(true)
      expect(gone.text).toMatch(new RegExp(`^JOB_NOT_FOUND: job '${jobId}' on box exited 3 at \\S+ after 2 lines, and was reaped at`))
      expect(reaping.transportErrors).toEqual([])
    } finally {
      await reaping.close()
    }
  })

  it("wrote nothing but JSON-RPC to stdout", () => {
    expect(server.transportErrors).toEqual([])
  })
})
