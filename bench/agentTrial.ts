/**
 * Bench row 12, "agent trial": a scripted agent (no model) doing eleven everyday ops tasks
 * through the SDK 1.x client (which checks every result against the tool's outputSchema),
 * with a 60 s request timeout as deployed clients have. It calls the tools as a model that
 * read their descriptions would: defaults first, and the descriptions' advice when a result
 * asks for it. Per task: calls, bytes of `JSON.stringify(structuredContent)` (what Claude
 * Code and VS Code show the model; the text block for error results, which have none) and of
 * the text blocks (what other clients show), the largest single result, wall time, whether
 * the task reached its goal, and what went wrong on the way (a call lost to the client's
 * timeout, a fallback). Also: the size of `ssh_tail` / `ssh_exec` results for 500 lines of
 * 40-byte output against the raw bytes.
 *
 * Run alone: npm run bench -- 12   (BENCH_TRIAL_LABEL=before|after names the column it fills)
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { type McpServerProcess, startMcpServer, type TailLine, tailLines, type ToolInfo } from "../test/support/mcp.ts"
import type { Sshd } from "../test/support/sshdServer.ts"

/** What one call cost, as a model reading it would see it. */
interface Call {
  readonly tool: string
  readonly isError: boolean
  /** Bytes of JSON.stringify(structuredContent), or of the text for an error (which has none). */
  readonly sc: number
  readonly text: number
  readonly lost: boolean
}

export interface TaskResult {
  readonly task: string
  readonly ok: boolean
  readonly calls: number
  readonly sc_bytes: number
  readonly text_bytes: number
  readonly max_sc: number
  readonly seconds: number
  readonly notes: string
}

export interface TrialResult {
  readonly tasks: ReadonlyArray<TaskResult>
  readonly ratio: { readonly tail: number; readonly exec: number; readonly raw: number; readonly tail_bytes: number; readonly exec_bytes: number }
}

const log = (s: string) => process.stderr.write(`[bench] trial: ${s}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The client's request timeout (Claude Code's and many clients' default is near this). */
const CLIENT_TIMEOUT_MS = 60_000

class Agent {
  calls: Array<Call> = []
  notes: Array<string> = []
  server: McpServerProcess
  readonly tools: Record<string, ToolInfo>
  constructor(server: McpServerProcess, tools: Record<string, ToolInfo>) {
    this.server = server
    this.tools = tools
  }

  /**
   * One tool call as a model would make it: a result, or a lost call (the client's timeout).
   * A call without `host` refused for want of a default host is made again naming the first
   * host, as a model reading `HOST_NOT_FOUND` would.
   */
  async call(tool: string, args: Record<string, unknown>): Promise<{ isError: boolean; data: Record<string, unknown>; text: string; lost: boolean }> {
    const r = await this.once(tool, args)
    if (r.isError && r.text.startsWith("HOST_NOT_FOUND") && args.host === undefined && this.has(tool, "host")) {
      return this.once(tool, { ...args, host: "box" })
    }
    return r
  }

  private async once(tool: string, args: Record<string, unknown>): Promise<{ isError: boolean; data: Record<string, unknown>; text: string; lost: boolean }> {
    try {
      const r = await this.server.client.callTool({ name: tool, arguments: args }, { timeout: CLIENT_TIMEOUT_MS })
      const text = r.content.filter((c) => c.type === "text").map((c) => c.text ?? "").join("\n")
      const sc = r.structuredContent === undefined ? Buffer.byteLength(text) : Buffer.byteLength(JSON.stringify(r.structuredContent))
      this.calls.push({ tool, isError: r.isError === true, sc, text: Buffer.byteLength(text), lost: false })
      if (r.isError === true) this.notes.push(`${tool} → ${text.slice(0, 120)}`)
      return { isError: r.isError === true, data: r.structuredContent ?? {}, text, lost: false }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      this.calls.push({ tool, isError: true, sc: 0, text: 0, lost: true })
      this.notes.push(`${tool} lost (${message.slice(0, 60)})`)
      return { isError: true, data: {}, text: message, lost: true }
    }
  }

  /** Whether the tool takes `param` (a model reads the input schema in tools/list). */
  has(tool: string, param: string): boolean {
    return Object.hasOwn(this.tools[tool]?.inputSchema.properties ?? {}, param)
  }

  note(s: string) {
    this.notes.push(s)
  }
}

type Line = TailLine

/** Follow a job with ssh_tail until it ends (or `stop` says so): every line seen, the last reply. */
const follow = async (agent: Agent, jobId: string, args: Record<string, unknown>, from = 0, stop?: (lines: Array<Line>) => boolean) => {
  const lines: Array<Line> = []
  let cursor = from
  for (let i = 0; i < 50; i++) {
    const r = await agent.call("ssh_tail", { job_id: jobId, ...args, since_line_no: cursor })
    if (r.isError) return { lines, last: r.data, error: r.text }
    lines.push(...tailLines(r.data))
    cursor = r.data.next_line_no as number
    if (stop?.(lines) === true) return { lines, last: r.data }
    if (r.data.status !== "running" && r.data.more !== true) return { lines, last: r.data }
  }
  return { lines, last: {} as Record<string, unknown> }
}

/** stdout of an ssh_exec result that finished or was handed over (following the job to its end). */
const execToEnd = async (agent: Agent, args: Record<string, unknown>) => {
  const r = await agent.call("ssh_exec", args)
  if (r.lost || r.isError) return { r, out: "", exit: null as number | null, handed: false }
  if (r.data.status === "running" && typeof r.data.job_id === "string") {
    const f = await follow(agent, r.data.job_id, { wait_ms: 30_000 }, r.data.next_line_no as number)
    return { r, out: `${String(r.data.stdout)}\n${f.lines.filter((l) => l.stream === "stdout").map((l) => l.text).join("\n")}`, exit: f.last.exit_status as number | null, handed: true }
  }
  return { r, out: String(r.data.stdout), exit: r.data.exit_status as number | null, handed: false }
}

/** BENCH_TRIAL_ONLY="tunnel,dump" runs only the tasks whose names contain one of those (to debug the trial). */
const only = process.env.BENCH_TRIAL_ONLY?.split(",")

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

export const agentTrial = async (sshd: Sshd, serverArgs: Array<string>): Promise<TrialResult> => {
  const remote = `/tmp/mcpssh-trial-${process.pid}`
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-trial-"))
  await sshd.exec(`rm -rf ${remote} && mkdir -p ${remote} && chown ${sshd.user.name} ${remote}`)
  // A 2.25 MB SQL dump, as the issue's trial had.
  await sshd.exec(
    `python3 -c ${q(`import sys
w = sys.stdout.write
w("-- MySQL dump 10.13  Distrib 8.0.36\\n")
for i in range(1, 22001):
    w("INSERT INTO orders VALUES (%d,'customer-%05d','2026-11-%02d',%d.%02d,'shipped');\\n" % (i, i % 9973, i % 28 + 1, i % 500, i % 100))
w("-- Dump completed on 2026-11-25 07:00:00\\n")`)} > ${remote}/dump.sql && chown ${sshd.user.name} ${remote}/dump.sql`
  )
  const deploy = path.join(local, "site")
  for (let i = 0; i < 200; i++) {
    const f = path.join(deploy, `assets/d${i % 10}`, `file-${i}.js`)
    fs.mkdirSync(path.dirname(f), { recursive: true })
    fs.writeFileSync(f, `// asset ${i}\n${"x".repeat(200 + (i % 50) * 20)}\n`)
  }

  const tasks: Array<TaskResult> = []
  let server = await startMcpServer({ client: "v1", args: serverArgs })
  const tools = Object.fromEntries((await server.client.listTools()).tools.map((t) => [t.name, t]))
  const run = async (task: string, body: (agent: Agent) => Promise<boolean>) => {
    if (only !== undefined && !only.some((o) => task.includes(o))) return
    log(task)
    const agent = new Agent(server, tools)
    const t0 = performance.now()
    let ok = false
    try {
      ok = await body(agent)
    } catch (e) {
      agent.note(`threw: ${e instanceof Error ? e.message : String(e)}`)
    }
    const seconds = (performance.now() - t0) / 1000
    tasks.push({
      task,
      ok,
      calls: agent.calls.length,
      sc_bytes: agent.calls.reduce((a, c) => a + c.sc, 0),
      text_bytes: agent.calls.reduce((a, c) => a + c.text, 0),
      max_sc: Math.max(0, ...agent.calls.map((c) => c.sc)),
      seconds,
      notes: agent.notes.join("; ")
    })
  }

  try {
    await run("a 90 s build", async (agent) => {
      const build = `for i in $(seq 1 90); do echo "[$i/90] CC src/module_$i.c"; sleep 1; done; echo BUILD OK`
      // What a model does first: run it and wait.
      let done = await execToEnd(agent, { command: build })
      if (done.r.lost || done.r.data.timed_out === true) {
        agent.note("fallback: ssh_spawn + ssh_tail")
        const s = await agent.call("ssh_spawn", { command: build })
        const f = await follow(agent, s.data.job_id as string, { wait_ms: 30_000 })
        done = { ...done, out: f.lines.map((l) => l.text).join("\n"), exit: f.last.exit_status as number | null }
      }
      return done.exit === 0 && done.out.includes("BUILD OK") && done.out.includes("[45/90]")
    })

    await run("a prompt", async (agent) => {
      const s = await agent.call("ssh_spawn", { command: `printf 'Overwrite config? [y/N] '; read a; echo "answer=$a"` })
      const id = s.data.job_id as string
      const t = await agent.call("ssh_tail", { job_id: id, wait_ms: 30_000 })
      if (t.data.awaiting_input !== true) agent.note("no awaiting_input")
      await agent.call("ssh_send_stdin", { job_id: id, data: "y\n" })
      const f = await follow(agent, id, { wait_ms: 30_000 })
      return f.lines.some((l) => l.text.includes("answer=y"))
    })

    await run("sudo", async (agent) => {
      const r = await agent.call("ssh_exec", { command: "id -u", sudo: true })
      if (!r.isError && String(r.data.stdout).trim() === "0") return true
      agent.note(`sudo: true → ${r.text.split(":")[0]}; fallback sudo -S + ssh_send_stdin secret`)
      const s = await agent.call("ssh_spawn", { command: "sudo -S -p 'Password: ' id -u" })
      const id = s.data.job_id as string
      await agent.call("ssh_tail", { job_id: id, wait_ms: 10_000 })
      await agent.call("ssh_send_stdin", { job_id: id, data: `${sshd.user.password}\n`, secret: true })
      const f = await follow(agent, id, { wait_ms: 10_000 })
      return f.lines.some((l) => l.text.trim() === "0")
    })

    await run("a 200-file deploy", async (agent) => {
      const up = await agent.call("ssh_upload", { local_path: deploy, remote_path: `${remote}/site` })
      if (up.isError) return false
      const check = await agent.call("ssh_exec", { command: `find ${remote}/site -type f | wc -l` })
      return up.data.verified === true && String(check.data.stdout).trim() === "200"
    })

    await run("tail -f", async (agent) => {
      const logFile = `${remote}/app.log`
      await agent.call("ssh_exec", { command: `: > ${logFile}` })
      const w = await agent.call("ssh_spawn", {
        command: `for i in $(seq 1 40); do echo "$(date +%T) INFO GET /api/items/$i 200 12ms" >> ${logFile}; sleep 0.1; done; echo "$(date +%T) ERROR db: connection reset" >> ${logFile}; sleep 30`
      })
      const t = await agent.call("ssh_spawn", { command: `tail -n +1 -f ${logFile}` })
      const id = t.data.job_id as string
      const m = await agent.call("ssh_tail", { job_id: id, wait_ms: 30_000, until: "ERROR" })
      // The matched line: `matched` (per-line form), or the line numbered matched_line_no.
      const n = (m.data.matched as { n?: number } | null | undefined)?.n ?? m.data.matched_line_no
      const seen = tailLines(m.data).find((l) => l.n === n)?.text ?? ""
      await agent.call("ssh_remove_job", { job_id: id, force: true })
      await agent.call("ssh_remove_job", { job_id: w.data.job_id, force: true })
      return seen.includes("ERROR db")
    })

    await run("buffered python", async (agent) => {
      const script = `import time
for i in range(1, 9):
    print("epoch %d loss %.3f" % (i, 1.0 / i))
    time.sleep(1)`
      const s = await agent.call("ssh_spawn", { command: `python3 -c ${q(script)}` })
      const t = await agent.call("ssh_tail", { job_id: s.data.job_id, wait_ms: 4000 })
      if (tailLines(t.data).length === 0 && t.data.status === "running") {
        // The spawn description: output only at the end means buffering; use pty: true.
        agent.note("no output while running: restarted with pty")
        await agent.call("ssh_remove_job", { job_id: s.data.job_id, force: true })
        const p = await agent.call("ssh_spawn", { command: `python3 -c ${q(script)}`, pty: true })
        const first = await agent.call("ssh_tail", { job_id: p.data.job_id, wait_ms: 4000, min_lines: 1 })
        const f = await follow(agent, p.data.job_id as string, { wait_ms: 30_000 }, first.data.next_line_no as number)
        return tailLines(first.data).length > 0 && f.lines.some((l) => l.text.includes("epoch 8"))
      }
      return false
    })

    await run("two hosts", async (agent) => {
      const c = await agent.call("ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, password: sshd.user.password, alias: "db" })
      if (c.isError) return false
      await agent.call("ssh_list_hosts", {})
      const many = await agent.call("ssh_exec_many", { hosts: ["box", "db"], command: "hostname; uptime; df -h /tmp | tail -1" })
      return many.data.ok === 2
    })

    await run("a tunnel", async (agent) => {
      const web = await agent.call("ssh_spawn", { command: "python3 -u -m http.server 18080 --bind 127.0.0.1", cwd: remote })
      await agent.call("ssh_tail", { job_id: web.data.job_id, wait_ms: 5000, until: "Serving" })
      const t = await agent.call("ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: 18080 })
      const port = t.data.bind_port as number
      const body = await new Promise<string>((resolve) => {
        http.get(`http://127.0.0.1:${port}/`, (res) => {
          let b = ""
          res.on("data", (d: Buffer) => (b += d.toString()))
          res.on("end", () => resolve(b))
        }).on("error", (e) => resolve(`error ${e.message}`))
      })
      await agent.call("ssh_tunnel_close", { tunnel_id: t.data.tunnel_id })
      await agent.call("ssh_remove_job", { job_id: web.data.job_id, force: true })
      return body.includes("dump.sql")
    })

    await run("a dropped connection", async (agent) => {
      const mark = `trial-drop-${process.pid}`
      const s = await agent.call("ssh_spawn", { command: `python3 -c 'import time; time.sleep(600)' ${mark}` })
      await agent.call("ssh_tail", { job_id: s.data.job_id, wait_ms: 500 })
      await sshd.killConnections()
      await sleep(500)
      const t = await agent.call("ssh_tail", { job_id: s.data.job_id, wait_ms: 5000 })
      agent.note(`after the drop: ${String(t.data.status)}`)
      // The agent wants the process stopped, whatever the job says.
      await agent.call("ssh_signal", { job_id: s.data.job_id, signal: "TERM" })
      let check = await agent.call("ssh_exec", { command: `pgrep -f '[t]${mark.slice(1)}' || echo none` })
      if (!String(check.data.stdout).includes("none")) {
        agent.note("still running after ssh_signal: pkill")
        await agent.call("ssh_exec", { command: `pkill -f '[t]${mark.slice(1)}'; true` })
        check = await agent.call("ssh_exec", { command: `pgrep -f '[t]${mark.slice(1)}' || echo none` })
      }
      await agent.call("ssh_remove_job", { job_id: s.data.job_id, force: true })
      return String(check.data.stdout).includes("none")
    })

    await run("a 2 MB dump", async (agent) => {
      const r = await agent.call("ssh_exec", { command: `cat ${remote}/dump.sql` })
      return !r.isError && String(r.data.stdout).includes("-- Dump completed") && String(r.data.stdout).startsWith("-- MySQL dump")
    })

    await run("a restart", async (agent) => {
      const s = await agent.call("ssh_spawn", { command: "while true; do echo heartbeat $(date +%s); sleep 1; done", persistent: true, label: "svc" })
      const id = s.data.job_id as string
      await agent.call("ssh_tail", { job_id: id, wait_ms: 1500, min_lines: 1 })
      // The MCP server restarts (an editor reload): a new session, the same host.
      await server.close()
      server = await startMcpServer({ client: "v1", args: serverArgs })
      agent.server = server
      const list = await agent.call("ssh_list_jobs", { host: "box", status: "running" })
      const found = (list.data.jobs as Array<{ job_id: string }> | undefined)?.some((j) => j.job_id === id) ?? false
      if (!found) {
        // Not listed: the model looks on the host, then asks again.
        agent.note("not in ssh_list_jobs: looked on the host")
        await agent.call("ssh_exec", { command: "pgrep -af heartbeat | head -5" })
        await agent.call("ssh_list_jobs", { host: "box", status: "running" })
      }
      // The newest lines: `last` where the tool has it, else from the start.
      const t = await agent.call("ssh_tail", { job_id: id, wait_ms: 3000, min_lines: 1, ...(agent.has("ssh_tail", "last") ? { last: 3 } : {}) })
      const alive = !t.isError && tailLines(t.data).some((l) => l.text.startsWith("heartbeat"))
      await agent.call("ssh_remove_job", { job_id: id, force: true })
      return alive
    })

    // 500 lines of 40 bytes: result bytes against the raw output.
    log("500 × 40-byte lines through ssh_tail and ssh_exec")
    const agent = new Agent(server, tools)
    const gen = `python3 -c ${q(`for i in range(1, 501): print("%05d the quick brown fox jumps over a." % i)`)}`
    const raw = 500 * 40
    const s = await agent.call("ssh_spawn", { command: gen })
    const tail = await agent.call("ssh_tail", { job_id: s.data.job_id, since_line_no: 0, wait_ms: 10_000, max_lines: 500, max_bytes: 65_536 })
    if (tailLines(tail.data).length !== 500) log(`ratio: ssh_tail returned ${tailLines(tail.data).length} lines`)
    const exec = await agent.call("ssh_exec", { command: gen, max_output_bytes: 65_536 }).then((r) =>
      r.isError ? agent.call("ssh_exec", { command: gen }) : r
    )
    if (!String(exec.data.stdout).includes("00500 the")) log("ratio: ssh_exec did not return all 500 lines")
    const tailBytes = Buffer.byteLength(JSON.stringify(tail.data))
    const execBytes = Buffer.byteLength(JSON.stringify(exec.data))
    return { tasks, ratio: { tail: tailBytes / raw, exec: execBytes / raw, raw, tail_bytes: tailBytes, exec_bytes: execBytes } }
  } finally {
    await server.close()
    fs.rmSync(local, { recursive: true, force: true })
    await sshd.exec(`pkill -u ${sshd.user.name} -f trial-drop- ; rm -rf ${remote}`)
  }
}
