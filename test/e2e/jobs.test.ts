/**
 * Jobs end to end: spawn, tail, signal, stdin, list, remove through the MCP SDK
 * client, against a real sshd.
 */
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"
import { call, type McpServerProcess, onFirstCell, startMcpServer, tailToEnd, type TailLine, CLIENT_MATRIX, tailLines } from "../support/mcp.js"


const token = () => 700_000 + Math.floor(Math.random() * 99_999)

for (const m of CLIENT_MATRIX) describeWithSshd(`jobs over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ transport: m.transport, client: m.client, args: ["--known-hosts", sshd.knownHostsPath] })
    const r = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box"
    })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("spawns at once and tails 1..5 in order, then exited 0", async () => {
    const t0 = Date.now()
    const spawned = await call(server, "ssh_spawn", { command: "for i in $(seq 1 5); do echo $i; sleep 1; done", label: "count" })
    const spawnMs = Date.now() - t0
    expect(spawned.isError, spawned.text).toBe(false)
    expect(spawned.data).toMatchObject({ status: "running", label: "count", host: "box" })
    expect(spawnMs).toBeLessThan(1000) // returns before the first line could have been followed by a second
    const jobId = spawned.data.job_id as string
    const { lines, last } = await tailToEnd(server, jobId)
    expect(lines.map((l) => l.text)).toEqual(["1", "2", "3", "4", "5"])
    expect(lines.map((l) => l.n)).toEqual([1, 2, 3, 4, 5])
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
  })

  it("wakes a blocked tail within milliseconds of a new line", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "sleep 1; for i in 1 2 3 4 5 6 7 8 9 10; do date +%s%N; sleep 0.3; done" })
    const jobId = spawned.data.job_id as string
    const latencies: Array<number> = []
    let cursor = 0
    for (;;) {
      const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: cursor, wait_ms: 10_000, max_lines: 1 })
      const received = Date.now()
      const lines = tailLines(r.data)
      for (const l of lines) latencies.push(received - Number(BigInt(l.text) / 1_000_000n))
      cursor = r.data.next_line_no as number
      if (r.data.status !== "running" && lines.length === 0) break
    }
    expect(latencies.length).toBe(10)
    latencies.sort((a, b) => a - b)
    const median = latencies[Math.floor(latencies.length / 2)]!
    process.stderr.write(`[measure] tail wake-up latency (remote print → reply received): median ${median} ms, max ${latencies.at(-1)} ms\n`)
    expect(median).toBeLessThan(1000)
  })

  if (onFirstCell(m)) it("counts dropped lines exactly for 1 000 000 lines and keeps the last ones", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "seq 1 1000000" })
    const jobId = spawned.data.job_id as string
    // Wait for the end without reading.
    for (;;) {
      const r = await call(server, "ssh_list_jobs", { status: "running" })
      if (!(r.data.jobs as Array<{ job_id: string }>).some((j) => j.job_id === jobId)) break
      await new Promise((res) => setTimeout(res, 200))
    }
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 0, max_lines: 10_000, max_bytes: 1_048_576 })
    expect(r.data.status).toBe("exited")
    expect(r.data.dropped).toBe(990_000)
    const lines = tailLines(r.data)
    expect(lines[0]).toEqual({ n: 990_001, stream: "stdout", text: "990001" })
    expect(lines.at(-1)).toEqual({ n: 1_000_000, stream: "stdout", text: "1000000" })
    expect(r.data.next_line_no).toBe(1_000_000)
    const list = await call(server, "ssh_list_jobs", {})
    const job = (list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId)!
    expect(job).toMatchObject({ lines: { stdout: 1_000_000, stderr: 0, total: 1_000_000 }, dropped: 990_000 })
    // Memory stays bounded: the server holds 10 000 of the million lines.
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, "utf8"))![1])
    process.stderr.write(`[measure] server RSS after a 1 000 000-line job: ${Math.round(rssKb / 1024)} MB\n`)
    expect(rssKb).toBeLessThan(300 * 1024)
  })

  it("shows buffered python output live with pty and with PYTHONUNBUFFERED", async () => {
    const py = `python3 -c "import time
for i in range(3):
    print('tick', i)
    time.sleep(1)"`
    for (const opts of [{ pty: true }, { env: { PYTHONUNBUFFERED: "1" } }]) {
      const spawned = await call(server, "ssh_spawn", { command: py, ...opts })
      const jobId = spawned.data.job_id as string
      // min_lines 1: return at the first line (by default the tail would wait for the end, 3 s).
      const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 5000, min_lines: 1 })
      // The first line arrives while the job still runs (not all at the end).
      expect(tailLines(r.data)[0]?.text.trim()).toBe("tick 0")
      expect(r.data.status).toBe("running")
      const rest = await tailToEnd(server, jobId, r.data.next_line_no as number)
      expect(rest.lines.map((l) => l.text.trim())).toEqual(["tick 1", "tick 2"])
    }
  })

  it("shows a prompt as partial, takes the answer on stdin, and finishes", async () => {
    // bash's read -p prints its prompt only when stdin is a terminal: hence the pty.
    const spawned = await call(server, "ssh_spawn", { command: "read -p 'Password: ' pw; echo \"got $pw\"", pty: true })
    const jobId = spawned.data.job_id as string
    let r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 3000 })
    const t0 = Date.now()
    while (r.data.partial !== "Password: " && Date.now() - t0 < 5000) {
      r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 1000 })
    }
    expect(r.data.partial).toBe("Password: ")
    const sent = await call(server, "ssh_send_stdin", { job_id: jobId, data: "s3cret\n", secret: true })
    expect(sent.isError, sent.text).toBe(false)
    const { lines, last } = await tailToEnd(server, jobId)
    // The terminal echoes what was typed: masked, like the program's own output of it.
    expect(lines.map((l) => l.text)).toEqual(["Password: ********", "got ********"])
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    expect(server.stderr()).not.toContain("s3cret")
  })

  for (const signal of ["TERM", "INT", "KILL"] as const) {
    it(`${signal} stops tail -f and its children`, async () => {
      const t = token()
      // A foreground pipeline: a non-interactive shell starts background commands with INT ignored.
      const spawned = await call(server, "ssh_spawn", { command: `sleep ${t} | tail -f /dev/null` })
      const jobId = spawned.data.job_id as string
      await new Promise((res) => setTimeout(res, 500))
      expect((await sshd.exec(`pgrep -f "sleep ${t}"`)).stdout.trim()).not.toBe("")
      const r = await call(server, "ssh_signal", { job_id: jobId, signal })
      expect(r.isError, r.text).toBe(false)
      // sshd may already have signalled the whole session for the channel request, leaving
      // nothing for kill to find: either delivery counts.
      expect(r.data.sent_via_channel === true || r.data.sent_via_pid === true).toBe(true)
      expect((r.data.job as { status: string }).status).toBe("killed")
      expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    })
  }

  it("stopping a shell pipeline leaves no orphan", async () => {
    const t = token()
    const spawned = await call(server, "ssh_spawn", { command: `sh -c 'sleep ${t} | cat'` })
    const jobId = spawned.data.job_id as string
    await new Promise((res) => setTimeout(res, 500))
    await call(server, "ssh_signal", { job_id: jobId, signal: "TERM" })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
  })

  it("survives invalid UTF-8, carriage-return progress bars and a 10 MB line", async () => {
    const spawned = await call(server, "ssh_spawn", {
      command: "printf 'bad \\377\\376 bytes\\n'; printf '10%%\\r50%%\\r100%%\\n'; head -c 10000000 /dev/zero | tr '\\0' x; echo; echo after"
    })
    const { lines, last } = await tailToEnd(server, spawned.data.job_id as string)
    expect(last.status).toBe("exited")
    expect(lines[0]!.text).toBe("bad \uFFFD\uFFFD bytes")
    expect(lines[1]!.text).toBe("100%")
    expect(lines[2]!.text.startsWith("x".repeat(65536))).toBe(true)
    expect(lines[2]!.text).toMatch(/\[line truncated: 9934464 bytes omitted\]$/)
    expect(lines[3]!.text).toBe("after")
  })

  it("refuses to remove a running job without force, stops it with force", async () => {
    const t = token()
    const spawned = await call(server, "ssh_spawn", { command: `sleep ${t}` })
    const jobId = spawned.data.job_id as string
    const refused = await call(server, "ssh_remove_job", { job_id: jobId })
    expect(refused.data).toMatchObject({ error: { code: "JOB_RUNNING" } })
    const removed = await call(server, "ssh_remove_job", { job_id: jobId, force: true })
    expect(removed.isError, removed.text).toBe(false)
    expect(removed.data).toMatchObject({ removed: true, terminated: "term" })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const gone = await call(server, "ssh_tail", { job_id: jobId })
    expect(gone.data).toMatchObject({ error: { code: "JOB_NOT_FOUND" } })
  })

  it("rejects an invalid until regex naming the field", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "echo hi" })
    const r = await call(server, "ssh_tail", { job_id: spawned.data.job_id, until: "([" })
    expect(r.data).toMatchObject({ error: { code: "INVALID_ARGUMENT" } })
    expect(r.text).toMatch(/until/)
  })

  it("returns as soon as a line matches until", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "for i in 1 2 3 4 5 6; do echo step $i; sleep 0.3; done; echo READY; sleep 30" })
    const jobId = spawned.data.job_id as string
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 20_000, until: "^READY$" })
    expect(tailLines(r.data).map((l) => l.text)).toEqual([
      "step 1", "step 2", "step 3", "step 4", "step 5", "step 6", "READY"
    ])
    expect(r.data.matched_line_no).toBe(7)
    expect(r.data.status).toBe("running")
    // The per-line form gives the matched line itself.
    const lines = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 6, until: "^READY$", format: "lines" })
    expect(lines.data.matched).toEqual({ n: 7, stream: "stdout", text: "READY" })
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("gives a client that reads only the text the lines as printed, after the other fields as JSON", async () => {
    const spawned = await call(server, "ssh_spawn", { command: `printf 'plain\\n{"json": "looking"}\\n\\ttab: \\\\ "q" \\342\\202\\254\\n'; echo oops >&2; printf 'no newline'` })
    const jobId = spawned.data.job_id as string
    const { last } = await tailToEnd(server, jobId)
    expect(last.status).toBe("exited")
    const printed = ["plain", '{"json": "looking"}', '\ttab: \\ "q" €', "oops", "no newline"]
    // The default form: the other fields as JSON, then the lines as printed.
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 0 })
    const nl = r.text.indexOf("\n")
    const { text, ...rest } = r.data
    expect(JSON.parse(r.text.slice(0, nl))).toEqual(rest)
    expect(rest).toMatchObject({ status: "exited", more: false })
    expect(r.text.slice(nl + 1)).toBe(text)
    const fromText = tailLines({ ...rest, text: r.text.slice(nl + 1) })
    expect([...fromText.map((l) => l.text)].sort()).toEqual([...printed].sort())
    expect(fromText.find((l) => l.text === "oops")!.stream).toBe("stderr")
    // The per-line form: one row per line, `<n> <stream>: <text>`.
    const l = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 0, format: "lines" })
    const [head, ...rows] = l.text.split("\n")
    const { lines, ...others } = l.data
    expect(JSON.parse(head!)).toEqual(others)
    expect(rows).toEqual((lines as Array<TailLine>).map((x) => `${x.n} ${x.stream}: ${x.text}`))
    expect(rows.length).toBe(5)
    expect(lines).toEqual(fromText)
    expect(rows).toContain(`${(lines as Array<TailLine>).find((x) => x.stream === "stderr")!.n} stderr: oops`)
    await call(server, "ssh_remove_job", { job_id: jobId })
  })

  it("wrote nothing but JSON-RPC to stdout", () => {
    expect(server.transportErrors).toEqual([])
  })
})

describeWithSshd("shutdown", (getSshd) => {
  for (const how of ["stdin EOF", "SIGTERM", "SIGINT"] as const) {
    it(`leaves no remote job process after ${how}`, async () => {
      const sshd = getSshd()
      const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
      await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      const t = token()
      await call(server, "ssh_spawn", { command: `sleep ${t}` })
      await call(server, "ssh_spawn", { command: `sh -c 'sleep ${t + 1} | cat'` })
      await call(server, "ssh_spawn", { command: `trap '' TERM; sleep ${t + 2}`, label: "ignores TERM" })
      await new Promise((res) => setTimeout(res, 500))
      expect((await sshd.exec(`pgrep -f "sleep ${t}"`)).stdout.trim()).not.toBe("")
      // Drive the server process directly: the SDK client's close() escalates to SIGKILL after 4 s,
      // sooner than a job that ignores TERM can be stopped (5 s grace, then KILL).
      const child = Reflect.get(server.transport, "_process") as ChildProcess
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)))
      if (how === "stdin EOF") child.stdin?.end()
      else child.kill(how)
      // It ended by itself after its cleanup, not by the signal's default action.
      expect(await exited).toBe(null)
      for (const n of [t, t + 1, t + 2]) expect(await waitNoProcess(sshd, `sleep ${n}`, 15_000)).toBe("")
    })
  }

  it("exits within kill_grace_ms + 15 s of SIGTERM when the host stops answering mid-shutdown", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--kill-grace-ms", "0"] })
    await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
    const t = token()
    await call(server, "ssh_spawn", { command: `sleep ${t}` })
    expect((await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t}$" && break; sleep 0.1; done`)).stdout.trim()).not.toBe("")
    // The host freezes: the sshd processes serving connections stop (the kernel still takes bytes).
    const serving = (await sshd.exec(`pgrep -P ${sshd.pid} -x sshd`)).stdout.trim().split("\n").filter((p) => p !== "")
    expect(serving.length).toBeGreaterThan(0)
    const all = (await sshd.exec(`for p in ${serving.join(" ")}; do echo $p; pgrep -P $p -x sshd; done`)).stdout.trim().split("\n")
    await sshd.exec(`kill -STOP ${all.join(" ")}`)
    try {
      const child = Reflect.get(server.transport, "_process") as ChildProcess
      const started = Date.now()
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      child.kill("SIGTERM")
      expect(await exited).toBe(1)
      const took = Date.now() - started
      expect(server.stderr()).toContain("shutdown still not done after 15000 ms: exiting")
      // Not a timing assertion: the exit must come from the deadline, not from a hang ended by the test's own timeout.
      expect(took).toBeGreaterThanOrEqual(15_000)
    } finally {
      await sshd.exec(`kill -CONT ${all.join(" ")}; pkill -f "^sleep ${t}$"`)
    }
  }, 90_000)
})
