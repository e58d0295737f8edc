/**
 * What encoding a tool's output with `Schema.encodeSync` costs beside the rest of a call (it
 * replaced a compiled fast path, fastEncode.ts, that read SchemaAST internals and saved at most
 * 2.7 % of a call's server time on default results). Encodes the two largest default results,
 * a 16 KiB `ssh_tail` page (both forms) and a 16 KiB `ssh_list_jobs` page, beside
 * `JSON.stringify` of the same value (a server writes every result at least twice: the text
 * block and the JSON-RPC message) and, against a real sshd, the same calls through the built
 * server: their time as an MCP client sees it (p50 of 200 after 3 warm-ups) and the server
 * process's CPU time per call (/proc/<pid>/stat, utime + stime over the 200 calls).
 *
 * Run: npm run build && node bench/encode.ts   (the sshd part needs root and sshd; `--no-sshd` skips it)
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { Schema } from "effect"
import { call, startMcpServer } from "../test/support/mcp.ts"
import { startSshd } from "../test/support/sshdServer.ts"

/** A module of the build (node runs this file as is, and src/ imports .ts files by their .js names), typed from its source. */
const built = <M>(module: string): Promise<M> => import(new URL(`../dist/${module}`, import.meta.url).href) as Promise<M>
const { sshTail } = await built<typeof import("../src/mcp/tools/ssh_tail.ts")>("mcp/tools/ssh_tail.js")
const { sshListJobs } = await built<typeof import("../src/mcp/tools/ssh_list_jobs.ts")>("mcp/tools/ssh_list_jobs.js")

const BUDGET = 16_384
const CALLS = 200
/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Median µs of one `f()` over batches of `inner` calls (after a warm-up). */
const time = (f: () => unknown, inner = 200, outer = 25): number => {
  for (let i = 0; i < inner * 5; i++) f()
  const samples: Array<number> = []
  for (let o = 0; o < outer; o++) {
    const t0 = performance.now()
    for (let i = 0; i < inner; i++) f()
    samples.push(((performance.now() - t0) * 1000) / inner)
  }
  return median(samples)
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v))

/** A tail page of lines of ~40 bytes, filled to the budget, in the `lines` form. */
const tailLinesPage = (budget = BUDGET) => {
  const lines: Array<{ n: number; stream: "stdout" | "stderr"; text: string }> = []
  const base = {
    job_id: "j-0123456789ab", next_line_no: 0, dropped: 0, partial: "", more: true,
    status: "running", exit_status: null, signal: null, awaiting_input: false, prompt: null
  }
  let size = bytes({ ...base, lines: [] })
  for (let n = 1; ; n++) {
    const line = { n, stream: "stdout" as const, text: `line ${n}: the quick brown fox jumps over` }
    size += bytes(line) + (n > 1 ? 1 : 0)
    if (size > budget) break
    lines.push(line)
  }
  return { ...base, next_line_no: lines.length + 1, lines }
}

/** The same lines as the default form: one text, line numbers as a range. */
const tailTextPage = (page: ReturnType<typeof tailLinesPage>) => {
  const { lines, ...rest } = page
  return { ...rest, line_nos: `1-${lines.length}`, text: lines.map((l) => l.text).join("\n") }
}

/** A page of job records filled to the budget. */
const listJobsPage = () => {
  const jobs: Array<Record<string, unknown>> = []
  for (let i = 0; ; i++) {
    const job = {
      job_id: `j-${i.toString(16).padStart(12, "0")}`, host: "box", command: `make -C /srv/app-${i} test`, label: null,
      status: i % 3 === 0 ? "running" : "exited", exit_status: i % 3 === 0 ? null : 0, signal: null, pid: 1000 + i,
      persistent: false, started_at: "2026-12-06T05:00:00.000Z", ended_at: i % 3 === 0 ? null : "2026-12-06T05:01:00.000Z",
      lines: { stdout: 120, stderr: 3, total: 123 }, dropped: 0, awaiting_input: false, prompt: null, end_reason: null
    }
    if (bytes({ jobs: [...jobs, job], next_cursor: 9999 }) > BUDGET) break
    jobs.push(job)
  }
  return { jobs, next_cursor: null }
}

const measure = (name: string, schema: Schema.Codec<unknown, unknown>, value: unknown) => {
  const encode = Schema.encodeSync(schema)
  return {
    name,
    bytes: bytes(value),
    schemaUs: time(() => encode(value)),
    stringifyUs: time(() => JSON.stringify(value))
  }
}

const inProcess = () => {
  const tail = tailLinesPage()
  return [
    measure(`ssh_tail, format lines (${tail.lines.length} lines)`, sshTail.output as Schema.Codec<unknown, unknown>, tail),
    measure("ssh_tail, default (text)", sshTail.output as Schema.Codec<unknown, unknown>, tailTextPage(tail)),
    measure(`ssh_list_jobs (${listJobsPage().jobs.length} jobs)`, sshListJobs.output as Schema.Codec<unknown, unknown>, listJobsPage()),
    // Not a default: max_bytes raised to 1 MiB (bench row 10's case).
    measure("ssh_tail, format lines, max_bytes 1 MiB", sshTail.output as Schema.Codec<unknown, unknown>, tailLinesPage(1_048_576))
  ]
}

/** p50 ms of the same results as calls through the built server over stdio, against a real sshd. */
const overMcp = async () => {
  const sshd = await startSshd()
  const server = await startMcpServer({
    args: ["--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath, "--max-jobs-per-host", "200", "--max-jobs", "400"]
  })
  const cpuMs = () => {
    const fields = fs.readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS
  }
  const p50 = async (f: () => Promise<unknown>) => {
    const ms: Array<number> = []
    for (let i = 0; i < 3; i++) await f()
    const cpu0 = cpuMs()
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now()
      await f()
      ms.push(performance.now() - t0)
    }
    return { p50: median(ms), serverCpu: (cpuMs() - cpu0) / CALLS }
  }
  try {
    const j = await call(server, "ssh_exec", { command: "seq -f 'line %g: the quick brown fox jumps over' 1 400", background_after_ms: 0 })
    const jobId = j.data.job_id as string
    for (let i = 0; i < 50; i++) {
      const t = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 200 })
      if (t.data.status !== "running") break
    }
    const tailLines = await p50(() => call(server, "ssh_tail", { job_id: jobId, format: "lines" }))
    const tailText = await p50(() => call(server, "ssh_tail", { job_id: jobId }))
    for (let i = 0; i < 60; i++) await call(server, "ssh_spawn", { command: `true ${i}` })
    const listJobs = await p50(() => call(server, "ssh_list_jobs", {}))
    return { tailLines, tailText, listJobs }
  } finally {
    await server.close()
    await sshd.stop()
  }
}

const main = async () => {
  const rows = inProcess()
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`)
  console.log("result | JSON bytes | Schema.encodeSync µs | JSON.stringify µs")
  for (const r of rows) console.log(`${r.name} | ${r.bytes} | ${r.schemaUs.toFixed(1)} | ${r.stringifyUs.toFixed(1)}`)
  if (!process.argv.includes("--no-sshd")) {
    const calls = await overMcp()
    for (const [name, r] of Object.entries(calls)) {
      console.log(`${name} over stdio: p50 ${r.p50.toFixed(2)} ms as the client sees it, server CPU ${r.serverCpu.toFixed(2)} ms per call`)
    }
  }
}

await main()
