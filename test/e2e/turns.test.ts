/**
 * Fewer turns for the agent: a tail spends its whole wait unless something needs the
 * agent, exec hands a command waiting at a prompt over at once, capped exec output is
 * whole lines. Against a real sshd, through the MCP SDK client.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithSshd, type Sshd } from "../support/sshd.js"
import { call, type McpServerProcess, startMcpServer, tailToEnd, type TailLine } from "../support/mcp.js"

/** Prints 1..n, line i at i × periodMs after the start, whatever the load (no drift from fork or sleep). */
const metronome = (n: number, periodMs: number, after = "") =>
  `python3 -u -c "import time
t = time.time()
for i in range(1, ${n + 1}):
    time.sleep(max(0, t + i * ${periodMs / 1000} - time.time()))
    print(i)"${after}`

/** A wait no test should sit out: a tail that returns early returns long before it. */
const LONG_WAIT = 60_000

describeWithSshd("fewer turns", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    const r = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box"
    })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  const spawn = async (command: string, extra: Record<string, unknown> = {}) => {
    const s = await call(server, "ssh_spawn", { command, ...extra })
    expect(s.isError, s.text).toBe(false)
    return s.data.job_id as string
  }

  // The case is 90 lines over 90 s followed with wait_ms 30000 (87 calls before).
  // Same ratios, 30× faster: 30 lines over 3 s, wait_ms 1000 (the wait is a third of the job).
  it("follows a 30-line, 3 s job in at most 5 default tail calls of wait_ms 1000, losing no line", async () => {
    const jobId = await spawn(metronome(30, 100))
    const seen: Array<TailLine> = []
    let cursor = 0
    let calls = 0
    for (;;) {
      const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: cursor, wait_ms: 1000 })
      expect(r.isError, r.text).toBe(false)
      calls++
      seen.push(...(r.data.lines as Array<TailLine>))
      cursor = r.data.next_line_no as number
      if (r.data.status !== "running" && r.data.more === false) break
      expect(calls).toBeLessThan(40)
    }
    process.stderr.write(`[measure] 30-line 3 s job followed in ${calls} ssh_tail calls (wait_ms 1000)\n`)
    expect(calls).toBeLessThanOrEqual(5)
    expect(seen.map((l) => l.text)).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 1)))
    expect(seen.map((l) => l.n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
  })

  it("still returns at the first line with min_lines: 1", async () => {
    const jobId = await spawn("echo one; sleep 30")
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, min_lines: 1 })
    expect((r.data.lines as Array<TailLine>).map((l) => l.text)).toEqual(["one"])
    expect(r.data.status).toBe("running")
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("returns once min_lines lines are there", async () => {
    const jobId = await spawn("for i in 1 2 3 4; do echo l$i; sleep 0.3; done; sleep 30")
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, min_lines: 3 })
    const texts = (r.data.lines as Array<TailLine>).map((l) => l.text)
    expect(texts.slice(0, 3)).toEqual(["l1", "l2", "l3"])
    expect(texts.length).toBeLessThanOrEqual(4)
    expect(r.data.status).toBe("running")
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("returns at once when the job ends", async () => {
    const jobId = await spawn("echo a; sleep 0.5; echo b")
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT })
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, more: false })
    expect((r.data.lines as Array<TailLine>).map((l) => l.text)).toEqual(["a", "b"])
  })

  it("returns at once when a line matches until", async () => {
    const jobId = await spawn("echo step 1; sleep 0.3; echo READY; sleep 30")
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, until: "^READY$" })
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    expect(r.data.matched).toMatchObject({ text: "READY" })
    expect((r.data.lines as Array<TailLine>).map((l) => l.text)).toEqual(["step 1", "READY"])
    expect(r.data.status).toBe("running")
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("returns at once when the job starts waiting at a prompt", async () => {
    const jobId = await spawn("echo hello; sleep 0.5; read -p 'Continue? [y/N] ' a; echo got $a", { pty: true })
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT })
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    expect(r.data).toMatchObject({ status: "running", awaiting_input: true, prompt: "Continue? [y/N] " })
    expect((r.data.lines as Array<TailLine>).map((l) => l.text)).toEqual(["hello"])
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "y\n" })
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toContain("got y")
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
  })

  it("returns at once when max_lines or max_bytes is reached", async () => {
    const jobId = await spawn("seq 1 20; sleep 30")
    const t0 = Date.now()
    const byLines = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, max_lines: 5 })
    expect((byLines.data.lines as Array<TailLine>).map((l) => l.text)).toEqual(["1", "2", "3", "4", "5"])
    expect(byLines.data.next_line_no).toBe(5)
    const byBytes = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 5, wait_ms: LONG_WAIT, max_bytes: 6 })
    const texts = (byBytes.data.lines as Array<TailLine>).map((l) => l.text)
    expect(texts.length).toBeGreaterThan(0)
    expect(texts.length).toBeLessThan(15)
    expect(texts).toEqual(Array.from({ length: texts.length }, (_, i) => String(6 + i)))
    expect(byBytes.data.more).toBe(true)
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("ssh_exec with background_after_ms hands a command waiting at a prompt over at once", async () => {
    const r = await call(server, "ssh_exec", {
      command: "read -p 'Continue? [y/N] ' x; echo got $x",
      pty: true,
      background_after_ms: 10_000
    })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ status: "running", awaiting_input: true, prompt: "Continue? [y/N] " })
    expect(r.data.duration_ms as number).toBeLessThan(10_000)
    expect(r.data.stdout).toBe("Continue? [y/N] ")
    const jobId = r.data.job_id as string
    const sent = await call(server, "ssh_send_stdin", { job_id: jobId, data: "y\n" })
    expect(sent.isError, sent.text).toBe(false)
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toEqual(["Continue? [y/N] y", "got y"])
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
  })

  it("ssh_exec with stdin given does not hand over at a prompt (nobody could answer it)", async () => {
    const r = await call(server, "ssh_exec", {
      command: "printf 'Continue? [y/N] '; sleep 1.5; read x; echo got $x",
      stdin: "y\n",
      background_after_ms: 10_000
    })
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, job_id: null, awaiting_input: false, stdout: "Continue? [y/N] got y\n" })
  })

  it("ssh_exec without a prompt still waits background_after_ms, then hands over", async () => {
    const r = await call(server, "ssh_exec", { command: "echo start; sleep 30", background_after_ms: 1000 })
    expect(r.data).toMatchObject({ status: "running", awaiting_input: false, prompt: null, stdout: "start\n" })
    expect(r.data.duration_ms as number).toBeGreaterThanOrEqual(1000)
    await call(server, "ssh_remove_job", { job_id: r.data.job_id, force: true })
  })

  it("caps exec output at line boundaries: whole consecutive lines on both sides of the marker", async () => {
    const r = await call(server, "ssh_exec", { command: "seq 1 200000" })
    expect(r.data.truncated).toBe(true)
    const out = r.data.stdout as string
    const [head, tail] = out.split(/\n… \d+ bytes omitted …\n/)
    const headLines = head!.split("\n").map(Number)
    const tailLines = tail!.split("\n").slice(0, -1).map(Number)
    expect(headLines).toEqual(Array.from({ length: headLines.length }, (_, i) => i + 1))
    expect(tailLines).toEqual(Array.from({ length: tailLines.length }, (_, i) => 200_000 - tailLines.length + 1 + i))
    const omitted = Number(/… (\d+) bytes omitted …/.exec(out)![1])
    expect(omitted + Buffer.byteLength(head!) + Buffer.byteLength(tail!)).toBe(r.data.stdout_bytes)
  })
})
