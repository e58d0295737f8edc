/**
 * Faults against a real sshd: the connection killed mid-stream, sshd restarted, sshd
 * down for a while. What happens to running jobs and to the next tool call.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

interface Job { job_id: string; status: string; exit_status: number | null }

describeWithSshd("faults", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  const jobStatus = async (jobId: string) => {
    const r = await call(server, "ssh_list_jobs", {})
    return (r.data.jobs as Array<Job>).find((j) => j.job_id === jobId)!
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
    await call(server, "ssh_tail", { job_id: jobId, wait_ms: 2000 })
    // Kill the sshd processes serving our connection (children of this test's listener).
    await sshd.killConnections()
    const job = await waitStatus(jobId, 10_000)
    expect(job.status).toBe("lost")
    expect(job.exit_status).toBeNull()
    const r = await call(server, "ssh_exec", { command: "echo back" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.stdout).toBe("back\n")
    expect(server.stderr()).toMatch(/connection to box lost; reconnecting/)
    await sshd.exec(`pkill -f 'while true; do i=' || true`)
  })

  it("sshd down for a while: the call waits through retries and succeeds once it is back", async () => {
    await sshd.killConnections()
    await sshd.pause()
    const call0 = Date.now()
    setTimeout(() => void sshd.restart(), 1500)
    const r = await call(server, "ssh_exec", { command: "echo up again" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.stdout).toBe("up again\n")
    expect(Date.now() - call0).toBeGreaterThan(1000)
  })

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
