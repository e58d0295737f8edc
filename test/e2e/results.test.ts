/**
 * What the model sees (issue 24; docs/TOOLS.md): results compact and complete in both forms,
 * within 16 KiB of structuredContent JSON by default whatever the host prints, the rest
 * reachable; no call outliving a client's 60 s timeout by default; the last N lines of a
 * job. Over every client of the matrix (SDK 1.x checks each result against outputSchema).
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { boxArgs, describeWithSshd, type Sshd } from "../support/sshd.js"
import { call, CLIENT_MATRIX, type McpServerProcess, onFirstCell, startMcpServer, tailLines, tailToEnd } from "../support/mcp.js"

const BUDGET = 16_384
const size = (data: Record<string, unknown>) => Buffer.byteLength(JSON.stringify(data))

/** 500 lines of 40 bytes (39 characters and a newline). */
const FIVE_HUNDRED = `python3 -c 'for i in range(1, 501): print("%05d the quick brown fox jumps over a." % i)'`

for (const m of CLIENT_MATRIX) describeWithSshd(`what the model sees over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-results-"))
  const remote = `/tmp/mcpssh-results-${process.pid}-${m.name.replace("/", "-")}`

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: [...boxArgs(sshd), "--host", `box2=127.0.0.1:${sshd.port}`, "--default-host", "box"]
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd?.exec(`rm -rf ${remote}`)
    fs.rmSync(local, { recursive: true, force: true })
  })

  const spawn = async (command: string) => {
    const s = await call(server, "ssh_spawn", { command })
    expect(s.isError, s.text).toBe(false)
    return s.data.job_id as string
  }

  it("gives ssh_tail's lines as one text with their numbers, stderr told apart, and the per-line form on request", async () => {
    const jobId = await spawn("echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; echo four")
    const { last } = await tailToEnd(server, jobId)
    expect(last.status).toBe("exited")
    const r = await call(server, "ssh_tail", { job_id: jobId })
    expect(r.data).toMatchObject({ text: "one\ntwo\nthree\nfour", line_nos: "1,e2,3-4", next_line_no: 4, matched_line_no: null })
    expect(r.data).not.toHaveProperty("lines")
    expect(Object.keys(r.data)).toEqual([
      "job_id", "line_nos", "next_line_no", "dropped", "partial", "more", "matched_line_no", "status", "exit_status", "signal", "awaiting_input", "prompt", "text"
    ])
    const lines = await call(server, "ssh_tail", { job_id: jobId, format: "lines" })
    expect(lines.data.lines).toEqual([
      { n: 1, stream: "stdout", text: "one" },
      { n: 2, stream: "stderr", text: "two" },
      { n: 3, stream: "stdout", text: "three" },
      { n: 4, stream: "stdout", text: "four" }
    ])
    expect(Object.keys(lines.data)).toEqual([
      "job_id", "lines", "next_line_no", "dropped", "partial", "more", "matched", "status", "exit_status", "signal", "awaiting_input", "prompt"
    ])
    expect(tailLines(r.data)).toEqual(lines.data.lines)
  })

  it("costs at most 1.15× the output's bytes for 500 lines of 40 bytes, through ssh_tail and ssh_exec", async () => {
    const raw = 500 * 40
    const jobId = await spawn(FIVE_HUNDRED)
    await tailToEnd(server, jobId)
    const t = await call(server, "ssh_tail", { job_id: jobId, max_bytes: 65_536 })
    expect(tailLines(t.data)).toHaveLength(500)
    const e = await call(server, "ssh_exec", { command: FIVE_HUNDRED, max_output_bytes: 65_536 })
    expect((e.data.stdout as string).split("\n")).toHaveLength(501)
    process.stderr.write(`[measure] 500 × 40 B: ssh_tail ${size(t.data)} B (${(size(t.data) / raw).toFixed(2)}×), ssh_exec ${size(e.data)} B (${(size(e.data) / raw).toFixed(2)}×)\n`)
    expect(size(t.data) / raw).toBeLessThanOrEqual(1.15)
    expect(size(e.data) / raw).toBeLessThanOrEqual(1.15)
  })

  it("returns the last N lines, and refuses a cursor past the job's lines naming the range", async () => {
    const jobId = await spawn("seq 1 100; sleep 0.3; echo oops >&2")
    await tailToEnd(server, jobId)
    const last = await call(server, "ssh_tail", { job_id: jobId, last: 3 })
    expect(tailLines(last.data).map((l) => l.text)).toEqual(["99", "100", "oops"])
    expect(last.data.next_line_no).toBe(101)
    const out = await call(server, "ssh_tail", { job_id: jobId, last: 2, stream: "stdout" })
    expect(tailLines(out.data).map((l) => l.n)).toEqual([99, 100])
    const past = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 5000 })
    expect(past.isError).toBe(true)
    expect(past.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
    expect(past.text).toMatch(/since_line_no: .*0–101/)
    expect(past.text).not.toMatch(/5000/)
    const both = await call(server, "ssh_tail", { job_id: jobId, last: 2, since_line_no: 1 })
    expect(both.text).toMatch(/^INVALID_ARGUMENT: last: /)
    // last: 0 is "from now on": it waits for new lines only.
    const follow = await spawn("echo old; sleep 1; echo new")
    await call(server, "ssh_tail", { job_id: follow, wait_ms: 5000, min_lines: 1 })
    const fresh = await call(server, "ssh_tail", { job_id: follow, last: 0, wait_ms: 10_000, min_lines: 1 })
    expect(tailLines(fresh.data).map((l) => l.text)).toEqual(["new"])
  })

  it("cuts a line longer than the reply with a marker, within 16 KiB, and goes on after it", async () => {
    const jobId = await spawn(`python3 -c 'print("x" * 70000); print("after")'`)
    await tailToEnd(server, jobId, 0, 5000).catch(() => undefined)
    const r = await call(server, "ssh_tail", { job_id: jobId })
    expect(size(r.data)).toBeLessThanOrEqual(BUDGET)
    expect(r.data.text).toMatch(/^x+…\[line cut: \d+ more bytes; a larger max_bytes returns it whole\]$/)
    expect(r.data).toMatchObject({ line_nos: "1", next_line_no: 1, more: true })
    const next = await call(server, "ssh_tail", { job_id: jobId, since_line_no: 1 })
    expect(next.data.text).toBe("after")
  })

  it("cuts a wait past 45 s to 45 s, and says so", async () => {
    const jobId = await spawn("sleep 0.5; echo done")
    const r = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 600_000 })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.note).toMatch(/wait_ms 600000 was cut to 45000/)
    expect(r.data.text).toBe("done")
  })

  it("shares ssh_exec_many's 16 KiB among the hosts", async () => {
    const r = await call(server, "ssh_exec_many", { hosts: ["box", "box2"], command: "seq 1 6000" })
    expect(size(r.data)).toBeLessThanOrEqual(BUDGET)
    expect(r.data.ok).toBe(2)
    for (const h of r.data.results as Array<{ stdout: string; truncated: boolean }>) {
      expect(h.truncated).toBe(true)
      expect(h.stdout).toMatch(/^1\n2\n[\s\S]*\n… \d+ bytes omitted by max_output_bytes …\n[\s\S]*\n6000\n$/)
    }
  })

  it("answers a directory transfer with counts, bytes and one digest over the tree, files on request", async () => {
    const tree = path.join(local, "tree")
    for (let i = 0; i < 30; i++) {
      fs.mkdirSync(path.join(tree, `d${i % 3}`), { recursive: true })
      fs.writeFileSync(path.join(tree, `d${i % 3}`, `f ${i}.txt`), `file ${i}\n`.repeat(i + 1))
    }
    const up = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/tree` })
    expect(up.isError, up.text).toBe(false)
    expect(up.data).toMatchObject({ files_count: 30, verified: true, files: [] })
    expect(up.data.sha256_local).toBe(up.data.sha256_remote)
    // The digest is the sha256 of the tree's sha256sum listing, sorted by path: the host's own tools agree.
    const onHost = await sshd.exec(`cd ${remote}/tree && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | tr '\\n' '\\0' | xargs -0 sha256sum | sha256sum`)
    expect(onHost.stdout.split(" ")[0]).toBe(up.data.sha256_remote)
    const down = await call(server, "ssh_download", { local_path: path.join(local, "back"), remote_path: `${remote}/tree`, detail: true })
    expect(down.data.sha256_local).toBe(up.data.sha256_local)
    const files = down.data.files as Array<{ path: string; bytes: number; sha256_local: string }>
    expect(files).toHaveLength(30)
    const f = files.find((x) => x.path === "d1/f 4.txt")!
    expect(f.sha256_local).toBe(createHash("sha256").update("file 4\n".repeat(5)).digest("hex"))
  })

  it("pages ssh_list_jobs within 16 KiB", async () => {
    const before = new Set<string>()
    for (let i = 0; i < 60; i++) before.add(await spawn("true"))
    const seen: Array<string> = []
    let cursor: number | null = 0
    while (cursor !== null) {
      const r = await call(server, "ssh_list_jobs", cursor === 0 ? {} : { cursor })
      expect(r.isError, r.text).toBe(false)
      expect(size(r.data)).toBeLessThanOrEqual(BUDGET)
      seen.push(...(r.data.jobs as Array<{ job_id: string }>).map((j) => j.job_id))
      cursor = r.data.next_cursor as number | null
      expect(seen.length).toBeLessThan(1000)
    }
    expect(new Set(seen).size).toBe(seen.length)
    for (const id of before) expect(seen).toContain(id)
  })

  if (onFirstCell(m)) it("pages ssh_list_hosts within 16 KiB", async () => {
    const many = await startMcpServer({
      args: [...boxArgs(sshd), ...Array.from({ length: 150 }, (_, i) => ["--host", `web${i}.example.internal=10.0.${i >> 8}.${i & 255}:22`]).flat()]
    })
    try {
      const aliases: Array<string> = []
      let cursor: number | null = 0
      let pages = 0
      while (cursor !== null) {
        const r = await call(many, "ssh_list_hosts", cursor === 0 ? {} : { cursor })
        expect(size(r.data)).toBeLessThanOrEqual(BUDGET)
        aliases.push(...(r.data.hosts as Array<{ alias: string }>).map((h) => h.alias))
        cursor = r.data.next_cursor as number | null
        pages++
      }
      expect(pages).toBeGreaterThan(1)
      expect(aliases).toHaveLength(151)
      expect(new Set(aliases).size).toBe(151)
    } finally {
      await many.close()
    }
  })

  if (onFirstCell(m)) it("names the --log-dir file that has every line an exec left out", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-results-logs-"))
    const logged = await startMcpServer({ args: [...boxArgs(sshd), "--log-dir", logDir] })
    try {
      const r = await call(logged, "ssh_exec", { command: "seq 1 200000" })
      expect(size(r.data)).toBeLessThanOrEqual(BUDGET)
      const file = path.join(logDir, `${r.data.job_id as string}.log`)
      expect(r.data.stdout).toContain(`since_line_no 0 pages them (all lines are in ${file}) …`)
      // The mirror catches up: every line is there.
      let lines = 0
      for (let i = 0; i < 100 && lines < 200_000; i++) {
        await new Promise((res) => setTimeout(res, 100))
        lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").length - 1 : 0
      }
      expect(lines).toBe(200_000)
    } finally {
      await logged.close()
      fs.rmSync(logDir, { recursive: true, force: true })
    }
  })

  // The client (SDK 1.x over stdio) with its 60 s timeout: a 50 s command, no arguments but the command.
  if (m.transport === "stdio" && m.client === "v1") it("hands a long ssh_exec over to a job by 45 s, so the client's 60 s timeout never eats it", async () => {
    const r = await call(server, "ssh_exec", { command: "for i in $(seq 1 50); do echo $i; sleep 1; done; echo done" }, { timeout: 60_000 })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ status: "running", timed_out: false })
    const jobId = r.data.job_id as string
    const soFar = (r.data.stdout as string).split("\n").filter((l) => l !== "")
    const { lines, last } = await tailToEnd(server, jobId, r.data.next_line_no as number, 30_000)
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    expect([...soFar, ...lines.map((l) => l.text)]).toEqual([...Array.from({ length: 50 }, (_, i) => String(i + 1)), "done"])
  }, 120_000)
})
