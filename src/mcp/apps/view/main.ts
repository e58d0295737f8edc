/**
 * The live job view (docs/TOOLS.md, "The live job view"), an MCP App: it learns the job from the tool result it is
 * shown with (`ssh_spawn` or `ssh_tail`), then follows it by calling `ssh_tail` through the
 * host with a cursor, `wait_ms`, `min_lines: 1` and `format: "lines"` (one object per line),
 * so each line is drawn as it arrives.
 * TERM / INT go through `ssh_signal`. Nothing is fetched from the network.
 *
 * The same page is also served standalone by the server's loopback view (`--view-port`,
 * src/mcp/viewServer.ts), marked by a `<meta name="mcp-ssh-live-view">`: it then asks that
 * endpoint (its own origin, under the job's token path) instead of an MCP host.
 */
import {
  App,
  applyDocumentTheme,
  applyHostFonts,
  applyHostStyleVariables,
  type McpUiHostContext
} from "@modelcontextprotocol/ext-apps"
import type { CallToolResult } from "@modelcontextprotocol/client"
import { AnsiUp } from "ansi_up"
import { parseTailText } from "../../tailText.js"
import "./style.css"

interface Line { readonly n: number; readonly stream: "stdout" | "stderr"; readonly text: string }
interface Tail {
  readonly job_id: string
  readonly lines: ReadonlyArray<Line>
  readonly next_line_no: number
  readonly dropped: number
  readonly partial: string
  readonly more: boolean
  readonly status: string
  readonly exit_status: number | null
  readonly signal: string | null
  readonly awaiting_input: boolean
  readonly prompt: string | null
}

/** Lines kept in the page; older ones are removed (the server keeps its own buffer). */
const MAX_LINES = 5000
const WAIT_MS = 25_000

const el = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`#${id} missing`)
  return e as T
}
const out = el<HTMLPreElement>("out")
const statusEl = el("status")
const jobEl = el("job")
const droppedEl = el("dropped")
const promptEl = el("prompt")
const errorEl = el("error")
const follow = el<HTMLInputElement>("follow")
const termButton = el<HTMLButtonElement>("term")
const intButton = el<HTMLButtonElement>("int")

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#x27;" })[c] ?? c)

/**
 * An OSC 8 hyperlink as drawn here. ansi_up makes any http(s) link an anchor with the
 * link's own text, so a line could read one address and lead to another; and it drops
 * the text of a link of any other scheme (`ls --hyperlink`'s file: links). Here a link
 * stays a link only when its text is its target; otherwise its text alone is shown.
 */
const linkOrText = (link: { readonly url: string; readonly text: string }): string =>
  link.text === link.url && /^https?:\/\//i.test(link.url)
    ? `<a href="${escapeHtml(link.url)}">${escapeHtml(link.text)}</a>`
    : escapeHtml(link.text)

/**
 * A converter with classes, not inline colours, so the 16 colours follow the theme
 * (style.css), and links drawn by `linkOrText` (ansi_up's `process_hyperlink` is private:
 * replaced on the instance; live-view.test.ts checks it is what runs).
 */
const converter = (): AnsiUp => {
  const a = new AnsiUp()
  a.use_classes = true
  Object.defineProperty(a, "process_hyperlink", { value: linkOrText })
  return a
}

// One converter per stream: SGR state (a colour left on) carries over lines of the same stream.
const ansi = { stdout: converter(), stderr: converter() }

/** A line as a terminal shows it: only what follows the last carriage return. */
const afterCr = (text: string): string => text.slice(text.lastIndexOf("\r") + 1)

/** Served by the server's loopback view, not embedded by an MCP host. */
const standalone = document.querySelector('meta[name="mcp-ssh-live-view"]') !== null
/** The job's token path on the loopback view (`/v/<token>`). */
const base = location.pathname.replace(/\/+$/, "")

const app = new App({ name: "mcp-ssh-live job view", version: "1" }, {}, { autoResize: true })

let jobId: string | undefined
let running = false
let droppedTotal = 0
let partialEl: HTMLElement | undefined

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** A tool result's JSON: its structuredContent, or what the text a client without it gets says. */
const resultData = (r: CallToolResult): Record<string, unknown> | undefined => {
  if (isRecord(r.structuredContent)) return r.structuredContent
  const first = r.content?.[0]
  if (first?.type !== "text") return undefined
  // ssh_spawn's text is its JSON; ssh_tail's is JSON then one line per output line.
  return parseTailText(first.text)
}
const resultText = (r: CallToolResult): string =>
  (r.content ?? []).map((c) => c.type === "text" ? c.text : "").join("\n")

const showError = (message: string | undefined) => {
  errorEl.hidden = message === undefined
  errorEl.textContent = message ?? ""
}

const scrollToEnd = () => {
  if (follow.checked) out.scrollTop = out.scrollHeight
}

const appendLine = (line: Line) => {
  const div = document.createElement("span")
  div.className = `line ${line.stream}`
  div.dataset.n = String(line.n)
  div.title = `${line.n} ${line.stream}`
  div.innerHTML = ansi[line.stream].ansi_to_html(afterCr(line.text)) + "\n"
  out.insertBefore(div, partialEl ?? null)
  while (out.childElementCount > MAX_LINES + 1) out.firstElementChild?.remove()
}

const setPartial = (text: string) => {
  if (text === "") {
    partialEl?.remove()
    partialEl = undefined
    return
  }
  partialEl ??= out.appendChild(document.createElement("span"))
  partialEl.className = "line partial"
  // A fresh converter: the partial line is redrawn whole on every reply.
  partialEl.innerHTML = converter().ansi_to_html(afterCr(text))
}

const setStatus = (t: Pick<Tail, "status" | "exit_status" | "signal">) => {
  running = t.status === "running"
  statusEl.dataset.status = t.status
  if (t.status === "exited" && t.exit_status !== 0) statusEl.dataset.failed = ""
  else delete statusEl.dataset.failed
  statusEl.textContent = t.status === "exited"
    ? `exited ${t.exit_status ?? "?"}`
    : t.status === "killed" && t.signal !== null ? `killed (${t.signal})` : t.status
  termButton.disabled = !running
  intButton.disabled = !running
}

const render = (t: Tail) => {
  for (const line of t.lines) appendLine(line)
  setPartial(t.partial)
  setStatus(t)
  droppedTotal += t.dropped
  droppedEl.hidden = droppedTotal === 0
  droppedEl.textContent = `${droppedTotal} lines dropped`
  promptEl.hidden = !t.awaiting_input
  promptEl.textContent = t.awaiting_input ? `waiting for input: ${t.prompt ?? ""}` : ""
  scrollToEnd()
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The loopback endpoint's answer as a tool result (its JSON, or its error as text). */
const fetched = async (response: Response): Promise<CallToolResult> => {
  const body = await response.text()
  if (response.ok) return { content: [{ type: "text", text: body }], structuredContent: JSON.parse(body) as Record<string, unknown> }
  const error = (JSON.parse(body) as { error?: string }).error ?? response.statusText
  return { isError: true, content: [{ type: "text", text: response.status === 404 ? `JOB_NOT_FOUND: ${error}` : error }] }
}

/** What the page asks of the loopback view: ssh_tail and ssh_signal for its one job. */
const callLoopback = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
  if (name === "ssh_tail") {
    const wait = Math.min(Number(args.wait_ms ?? 0), 20_000)
    return fetched(await fetch(`${base}/tail?since=${Number(args.since_line_no ?? 0)}&wait=${wait}`, { cache: "no-store" }))
  }
  return fetched(await fetch(`${base}/signal/${String(args.signal)}`, { method: "POST" }))
}

const callTool = (name: string, args: Record<string, unknown>) =>
  standalone ? callLoopback(name, args) : app.callServerTool({ name, arguments: args }, { timeout: WAIT_MS + 30_000 })

/** Follow the job until it has ended and every line is drawn. */
const followJob = async (id: string) => {
  let cursor = 0
  let failures = 0
  for (;;) {
    let r: CallToolResult
    try {
      r = await callTool("ssh_tail", { job_id: id, since_line_no: cursor, wait_ms: WAIT_MS, min_lines: 1, max_lines: 500, format: "lines" })
    } catch (e) {
      showError(`ssh_tail: ${e instanceof Error ? e.message : String(e)}`)
      if (++failures >= 5) return
      await sleep(1000 * failures)
      continue
    }
    const data = resultData(r)
    if (r.isError === true || data === undefined) {
      const text = resultText(r)
      showError(text)
      // The job is gone (removed, reaped): nothing more to follow.
      if (text.startsWith("JOB_NOT_FOUND") || ++failures >= 5) {
        setStatus({ status: running ? "lost" : statusEl.dataset.status ?? "lost", exit_status: null, signal: null })
        return
      }
      await sleep(1000 * failures)
      continue
    }
    failures = 0
    showError(undefined)
    const t = data as unknown as Tail
    render(t)
    cursor = t.next_line_no
    if (t.status !== "running" && t.lines.length === 0 && !t.more) return
    // Nothing new although the wait was not spent (e.g. still at the same prompt): do not spin.
    if (t.lines.length === 0 && !t.more) await sleep(500)
  }
}

const start = (id: string, label?: string) => {
  if (jobId !== undefined) return
  jobId = id
  jobEl.textContent = label !== undefined && label !== "" ? `${label} · ${id}` : id
  jobEl.title = id
  statusEl.textContent = "running"
  statusEl.dataset.status = "running"
  void followJob(id)
}

const signal = async (sig: "TERM" | "INT") => {
  if (jobId === undefined) return
  try {
    const r = await callTool("ssh_signal", { job_id: jobId, signal: sig })
    if (r.isError === true) showError(resultText(r))
  } catch (e) {
    showError(`ssh_signal: ${e instanceof Error ? e.message : String(e)}`)
  }
}
termButton.addEventListener("click", () => void signal("TERM"))
intButton.addEventListener("click", () => void signal("INT"))
follow.addEventListener("change", scrollToEnd)
// Scrolling back to read stops following, as in a terminal; the toggle turns it on again.
out.addEventListener("wheel", (e) => {
  if (e.deltaY < 0) follow.checked = false
})

const applyContext = (ctx: McpUiHostContext | undefined) => {
  if (ctx === undefined) return
  if (ctx.theme !== undefined) applyDocumentTheme(ctx.theme)
  if (ctx.styles?.variables !== undefined) applyHostStyleVariables(ctx.styles.variables)
  if (ctx.styles?.css?.fonts !== undefined) applyHostFonts(ctx.styles.css.fonts)
}

app.addEventListener("hostcontextchanged", (ctx) => applyContext(ctx))
// ssh_tail's input names the job before its result arrives; ssh_spawn's result does.
app.addEventListener("toolinput", (params) => {
  const id = params.arguments?.job_id
  if (typeof id === "string") start(id)
})
app.addEventListener("toolresult", (result) => {
  const data = resultData(result)
  if (result.isError === true || data === undefined) {
    showError(resultText(result))
    return
  }
  if (typeof data.job_id === "string") start(data.job_id, typeof data.label === "string" ? data.label : undefined)
})

if (standalone) {
  // The page's one job: its token path names it.
  const r = await fetch(`${base}/job`, { cache: "no-store" })
  if (r.ok) {
    const job = (await r.json()) as { job_id: string; label: string | null }
    start(job.job_id, job.label ?? undefined)
  } else showError("JOB_NOT_FOUND: this job is gone (removed, or the server restarted)")
} else {
  await app.connect()
  applyContext(app.getHostContext())
}
