/**
 * Long commands without friction, end to end: exec handing over to a job, idle
 * timeouts, prompts, sudo without leaks, progress on exec.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithSshd, type Sshd, waitNoProcess, boxArgs } from "../support/sshd.js"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer, tailToEnd } from "../support/mcp.js"


const token = () => 900_000 + Math.floor(Math.random() * 99_999)

for (const m of CLIENT_MATRIX) describeWithSshd(`long commands over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: [
        ...boxArgs(sshd),
        "--sudo-password-env", "BOX_SUDO_PW", "--default-host", "box"
      ],
      env: { BOX_SUDO_PW: sshd.user.password }
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("hands a slow exec over to a job, and tail continues with no gap or duplicate", async () => {
    const r = await call(server, "ssh_exec", {
      command: "for i in $(seq 1 8); do echo $i; sleep 1; done",
      background_after_ms: 2000
    })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ status: "running", exit_status: null, timed_out: false })
    const jobId = r.data.job_id as string
    expect(jobId).toMatch(/^job-/)
    const soFar = (r.data.stdout as string).split("\n").filter((l) => l !== "")
    expect(soFar.length).toBeGreaterThanOrEqual(1)
    expect(r.data.next_line_no).toBe(soFar.length)
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect([...soFar, ...lines.map((l) => l.text)]).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"])
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
  })

  it("returns a fast exec normally even with background_after_ms", async () => {
    const r = await call(server, "ssh_exec", { command: "echo quick", background_after_ms: 5000 })
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, stdout: "quick\n", job_id: null, next_line_no: null })
  })

  it("stops an exec that goes quiet, by idle timeout, leaving nothing behind", async () => {
    const t = token()
    const started = Date.now()
    const r = await call(server, "ssh_exec", { command: `sh -c 'echo start; sleep ${t}'`, idle_timeout_ms: 2000 })
    expect(r.data).toMatchObject({ idle_timed_out: true, timed_out: false, status: "killed", stdout: "start\n" })
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
  })

  it("stops a spawned job that goes quiet, and reports why", async () => {
    const t = token()
    const s = await call(server, "ssh_spawn", { command: `echo start; sleep ${t}`, idle_timeout_ms: 2000 })
    const { last } = await tailToEnd(server, s.data.job_id as string, 0)
    expect(last.status).toBe("killed")
    const list = await call(server, "ssh_list_jobs", {})
    const job = (list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === s.data.job_id)
    expect(job).toMatchObject({ status: "killed", end_reason: "idle-timeout" })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
  })

  it("does not stop a command that keeps printing", async () => {
    const r = await call(server, "ssh_exec", {
      command: "for i in $(seq 1 12); do echo tick $i; sleep 0.5; done",
      idle_timeout_ms: 2000
    })
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, idle_timed_out: false })
    expect((r.data.stdout as string).trim().split("\n")).toHaveLength(12)
  })

  it("detects a [y/N] prompt, wakes a waiting tail, and takes the answer", async () => {
    const s = await call(server, "ssh_spawn", { command: "sleep 1; read -p 'Continue? [y/N] ' a; echo got $a", pty: true })
    const jobId = s.data.job_id as string
    const started = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 30_000 })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(r.data).toMatchObject({ status: "running", awaiting_input: true, prompt: "Continue? [y/N] ", partial: "Continue? [y/N] " })
    const list = await call(server, "ssh_list_jobs", {})
    expect((list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId))
      .toMatchObject({ awaiting_input: true, prompt: "Continue? [y/N] " })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "y\n" })
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toContain("got y")
    expect(last).toMatchObject({ status: "exited", exit_status: 0, awaiting_input: false })
  })

  it("runs sudo with the configured password, written to stdin, never in argv", async () => {
    const r = await call(server, "ssh_exec", { command: "id -u", sudo: true })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
    const t = token()
    const job = await call(server, "ssh_spawn", { command: `sleep ${t}`, sudo: true })
    expect(job.isError, job.text).toBe(false)
    // The command reaches the root shell over stdin once sudo has let it in: wait for it to start.
    await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t}$" >/dev/null && break; sleep 0.1; done`)
    const ps = await sshd.exec("ps -eo args")
    expect(ps.stdout).toContain(`sleep ${t}`)
    expect(ps.stdout).not.toContain(sshd.user.password)
    await call(server, "ssh_remove_job", { job_id: job.data.job_id, force: true })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    expect(JSON.stringify(r.data)).not.toContain(sshd.user.password)
    expect(server.stderr()).not.toContain(sshd.user.password)
  })

  it("runs passwordless sudo with no configuration", async () => {
    const c = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.nopasswdUser.name, key_path: sshd.clientKeyPath, alias: "nopw"
    })
    expect(c.isError, c.text).toBe(false)
    const r = await call(server, "ssh_exec", { command: "id -u", sudo: true, host: "nopw" })
    expect(r.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
  })

  it("says SUDO_PASSWORD_REQUIRED when sudo asks and nothing is configured", async () => {
    await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "needs-pw"
    })
    const r = await call(server, "ssh_exec", { command: "id -u", sudo: true, host: "needs-pw" })
    expect(r.data).toMatchObject({ error: { code: "SUDO_PASSWORD_REQUIRED" } })
    // Both routes: what the operator can set, and what the agent can do now.
    expect(r.text).toMatch(/sudo_password_env/)
    expect(r.text).toMatch(/sudo_with_login_password/)
    expect(r.text).toMatch(/sudo -S/)
    expect(r.text).toMatch(/ssh_send_stdin \(secret: true\)/)
  })

  it("the hint's own route works: sudo -S in a job, the password sent as a secret", async () => {
    const s = await call(server, "ssh_spawn", { command: "sudo -S -p 'Password: ' id -u", host: "needs-pw" })
    expect(s.isError, s.text).toBe(false)
    const jobId = s.data.job_id as string
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 20_000 })
    expect(r.data).toMatchObject({ awaiting_input: true, prompt: "Password: " })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: `${sshd.user.password}\n`, secret: true })
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toContain("0")
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    expect(server.stderr()).not.toContain(sshd.user.password)
  })

  it("sends progress notifications carrying the newest lines", async () => {
    const messages: Array<string> = []
    const r = await call(server, "ssh_exec", { command: "for i in $(seq 1 10); do echo step $i; sleep 0.5; done" }, {
      onprogress: (p) => {
        if (p.message !== undefined) messages.push(p.message)
      }
    })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.exit_status).toBe(0)
    expect(messages.length).toBeGreaterThanOrEqual(3)
    for (const m of messages) expect(m).toMatch(/^step \d+$/)
  })

  it("wrote nothing but JSON-RPC to stdout", () => {
    expect(server.transportErrors).toEqual([])
  })
})

describeWithSshd("sudo with a wrong password", (getSshd) => {
  it("says SUDO_AUTH_FAILED and leaks nothing", async () => {
    const sshd = getSshd()
    const wrong = "not-the-password-42"
    const server = await startMcpServer({
      args: [
        ...boxArgs(sshd),
        "--sudo-password-env", "BOX_SUDO_PW"
      ],
      env: { BOX_SUDO_PW: wrong }
    })
    try {
      const r = await call(server, "ssh_exec", { command: "id -u", sudo: true })
      expect(r.data).toMatchObject({ error: { code: "SUDO_AUTH_FAILED" } })
      expect(r.text).not.toContain(wrong)
      const s = await call(server, "ssh_spawn", { command: "id -u", sudo: true })
      expect(s.data).toMatchObject({ error: { code: "SUDO_AUTH_FAILED" } })
      expect(server.stderr()).not.toContain(wrong)
    } finally {
      await server.close()
    }
  })
})

describeWithSshd("sudo with the login password", (getSshd) => {
  it("is off by default, and with sudo_with_login_password sudo gets the password the host was connected with", async () => {
    const sshd = getSshd()
    const password = sshd.user.password
    const connect = { host: sshd.host, port: sshd.port, user: sshd.user.name, password, alias: "pw" }
    const off = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    try {
      expect((await call(off, "ssh_connect", connect)).isError).toBe(false)
      const r = await call(off, "ssh_exec", { command: "id -u", sudo: true })
      expect(r.data).toMatchObject({ error: { code: "SUDO_PASSWORD_REQUIRED" } })
    } finally {
      await off.close()
    }
    const on = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--sudo-with-login-password"] })
    try {
      expect((await call(on, "ssh_connect", connect)).isError).toBe(false)
      const r = await call(on, "ssh_exec", { command: "id -u", sudo: true })
      expect(r.isError, r.text).toBe(false)
      expect(r.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
      const t = token()
      const job = await call(on, "ssh_spawn", { command: `sleep ${t}`, sudo: true })
      expect(job.isError, job.text).toBe(false)
      await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t}$" >/dev/null && break; sleep 0.1; done`)
      expect((await sshd.exec("ps -eo args")).stdout).not.toContain(password)
      // Root's job is stopped through sudo with the same password.
      const removed = await call(on, "ssh_remove_job", { job_id: job.data.job_id, force: true })
      expect(removed.isError, removed.text).toBe(false)
      expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
      expect(JSON.stringify([r.data, job.data, removed.data])).not.toContain(password)
      expect(on.stderr()).not.toContain(password)
    } finally {
      await on.close()
    }
  })
})
