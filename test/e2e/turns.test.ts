/**
 * Fewer turns for the agent: a tail spends its whole wait unless something needs the
 * agent, exec hands a command waiting at a prompt over at once, capped exec output is
 * whole lines. Against a real sshd, through the MCP SDK client.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithSshd, type Sshd } from "../support/sshd.js"
import { call, type McpServerProcess, startMcpServer, tailToEnd, type TailLine, tailLines } from "../support/mcp.js"

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
      seen.push(...tailLines(r.data))
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
    expect(tailLines(r.data).map((l) => l.text)).toEqual(["one"])
    expect(r.data.status).toBe("running")
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("returns once min_lines lines are there", async () => {
    const jobId = await spawn("for i in 1 2 3 4; do echo l$i; sleep 0.3; done; sleep 30")
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, min_lines: 3 })
    const texts = tailLines(r.data).map((l) => l.text)
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
    expect(tailLines(r.data).map((l) => l.text)).toEqual(["a", "b"])
  })

  it("returns at once when a line matches until", async () => {
    const jobId = await spawn("echo step 1; sleep 0.3; echo READY; sleep 30")
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, until: "^READY$" })
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    expect(tailLines(r.data).map((l) => l.text)).toEqual(["step 1", "READY"])
    expect(r.data.matched_line_no).toBe(2)
    expect(r.data.status).toBe("running")
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("returns at once when the job starts waiting at a prompt", async () => {
    const jobId = await spawn("echo hello; sleep 0.5; read -p 'Continue? [y/N] ' a; echo got $a", { pty: true })
    const t0 = Date.now()
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT })
    expect(Date.now() - t0).toBeLessThan(LONG_WAIT / 2)
    expect(r.data).toMatchObject({ status: "running", awaiting_input: true, prompt: "Continue? [y/N] " })
    expect(tailLines(r.data).map((l) => l.text)).toEqual(["hello"])
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "y\n" })
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number)
    expect(lines.map((l) => l.text)).toContain("got y")
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
  })

  it("returns at once when max_lines or max_bytes is reached", async () => {
    const jobId = await spawn("seq 1 20; sleep 30")
    const t0 = Date.now()
    const byLines = await call(server, "ssh_tail", { job_id: jobId, wait_ms: LONG_WAIT, max_lines: 5 })
    expect(tailLines(byLines.data).map((l) => l.text)).toEqual(["1", "2", "3", "4", "5"])
    expect(byLines.data.next_line_no).toBe(5)
    const byBytes = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 5, wait_ms: LONG_WAIT, max_bytes: 6 })
    const texts = tailLines(byBytes.data).map((l) => l.text)
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

  /** An exec's stdout cut around its marker: the head's and tail's lines, the marker's numbers. */
  const cutAt = (out: string) => {
    const m = /\n… (\d+) bytes omitted; ssh_tail job_id (job-[0-9a-f]+) stream stdout since_line_no (\d+) pages them( \(the job holds only its newest lines\))? …\n/.exec(out)
    expect(m, out.slice(0, 300)).not.toBeNull()
    const head = out.slice(0, m!.index)
    const tail = out.slice(m!.index + m![0].length)
    return { head, tail, omitted: Number(m![1]), jobId: m![2]!, since: Number(m![3]), evicted: m![4] !== undefined }
  }

  it("keeps an exec's reply within 16 KiB: whole lines of head and tail, the rest paged from the job the marker names", async () => {
    const r = await call(server, "ssh_exec", { command: "seq 1 5000" })
    const sc = await call(server, "ssh_list_jobs", {}) // (the job it names is listed)
    expect(Buffer.byteLength(JSON.stringify(r.data))).toBeLessThanOrEqual(16_384)
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, truncated: true })
    const { head, tail, omitted, jobId, since, evicted } = cutAt(r.data.stdout as string)
    expect(r.data.job_id).toBe(jobId)
    expect((sc.data.jobs as Array<{ job_id: string }>).some((j) => j.job_id === jobId)).toBe(true)
    const headLines = head.split("\n").map(Number)
    const tailNumbers = tail.split("\n").slice(0, -1).map(Number)
    expect(headLines).toEqual(Array.from({ length: headLines.length }, (_, i) => i + 1))
    expect(tailNumbers).toEqual(Array.from({ length: tailNumbers.length }, (_, i) => 5000 - tailNumbers.length + 1 + i))
    expect(omitted + Buffer.byteLength(head) + Buffer.byteLength(tail)).toBe(r.data.stdout_bytes)
    // The marker's call gives the first line left out, and paging reaches the tail.
    expect(evicted).toBe(false)
    expect(since).toBe(headLines.length)
    const page = await call(server, "ssh_tail", { job_id: jobId, stream: "stdout", since_line_no: since })
    expect(tailLines(page.data)[0]).toEqual({ n: since + 1, stream: "stdout", text: String(since + 1) })
    expect(page.data.more).toBe(true)
    const { lines } = await tailToEnd(server, jobId, since)
    expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: 5000 - since }, (_, i) => since + 1 + i))
  })

  it("says so when the job no longer holds the start of what an exec left out", async () => {
    const r = await call(server, "ssh_exec", { command: "seq 1 200000" })
    expect(Buffer.byteLength(JSON.stringify(r.data))).toBeLessThanOrEqual(16_384)
    const { head, tail, omitted, jobId, since, evicted } = cutAt(r.data.stdout as string)
    expect(omitted + Buffer.byteLength(head) + Buffer.byteLength(tail)).toBe(r.data.stdout_bytes)
    expect(evicted).toBe(true)
    expect(since).toBe(0)
    const page = await call(server, "ssh_tail", { job_id: jobId, stream: "stdout", since_line_no: since })
    expect(page.data.dropped).toBe(190_000)
    expect(tailLines(page.data)[0]!.text).toBe("190001")
  })

  it("returns more of an exec's output on request (max_output_bytes), up to what the server keeps", async () => {
    const r = await call(server, "ssh_exec", { command: "seq 1 200000", max_output_bytes: 1_048_576 })
    const size = Buffer.byteLength(JSON.stringify(r.data))
    expect(size).toBeLessThanOrEqual(1_048_576)
    // max_output_bytes (256 KiB a stream) is what the server kept.
    expect(size).toBeGreaterThan(256 * 1024)
    expect(r.data.truncated).toBe(true)
    const small = await call(server, "ssh_exec", { command: "seq 1 3" })
    expect(small.data).toMatchObject({ stdout: "1\n2\n3\n", truncated: false, job_id: null })
  })
})
