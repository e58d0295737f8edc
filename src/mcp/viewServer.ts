/**
 * The live job view as a web page (`--view-port`), for clients that do not render MCP
 * Apps (Claude Code, a locally configured Claude Desktop): the same page as the MCP App
 * (src/mcp/apps/view), served on 127.0.0.1 with a small JSON endpoint in place of the
 * host bridge. `ssh_spawn` and `ssh_tail` results carry the job's `view_url`.
 *
 * - One random token per job (128 bits), in the URL: `http://127.0.0.1:<port>/v/<token>`.
 *   It opens that job only; without a known token every path is 404.
 * - Checked before anything else, from the request line and headers alone: the Host header
 *   must name this machine (DNS rebinding), the token must be known; no request body is ever
 *   read (a request that announces one is refused), and a POST from a page of another
 *   origin is 403.
 * - Bounded: connections capped, header and request timeouts, header size capped, a
 *   long-poll wait capped; responses carry a CSP that allows nothing external.
 *
 * Routes under `/v/<token>`: `GET` the page; `GET /job` the job's id and label; `GET
 * /tail?since=N&wait=MS` the job's lines after the cursor (ssh_tail's per-line form, waiting
 * up to 20 s for one); `POST /signal/TERM` or `/signal/INT`.
 *
 * @since 0.4.0
 */
import { createHash, randomBytes } from "node:crypto"
import * as http from "node:http"
import { Context, Effect, Layer } from "effect"
import { ConfigError } from "../domain/errors.js"
import { hostnameOfHostHeader, isLoopback } from "../loopback.js"
import { Jobs } from "../services/Jobs.js"
import { addOwnListener } from "../tunnels/ownListeners.js"
import { readViewHtml } from "./apps/jobView.js"

export class ViewServer extends Context.Service<ViewServer, {
  /** The page of `jobId` (its token is made on the first ask). */
  url(jobId: string): string
  /** The port listened on. */
  readonly port: number
}>()("mcp-ssh-live/ViewServer") {}

/** The address the view listens on: loopback only. */
export const VIEW_BIND = "127.0.0.1"
/** Connections at once (a page holds one long poll, and briefly a second). */
export const VIEW_MAX_CONNECTIONS = 16
/** The longest a `tail` request waits for a new line. */
export const VIEW_MAX_WAIT_MS = 20_000
/** Tokens kept at most; the oldest go first (their jobs are the oldest). */
const MAX_TOKENS = 10_000

/** Tells the page it is served standalone (it then talks to this endpoint, not an MCP host). */
export const STANDALONE_META = `<meta name="mcp-ssh-live-view" content="standalone">`

const CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  "img-src data:",
  "font-src data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY"
} as const

const hash = (token: string) => createHash("sha256").update(token).digest("base64url")

const send = (res: http.ServerResponse, status: number, body: string, type = "application/json", close = false) => {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": `${type}; charset=utf-8`,
    "content-length": Buffer.byteLength(body),
    ...(close ? { connection: "close" } : {})
  })
  res.end(body)
}
const json = (res: http.ServerResponse, status: number, value: unknown, close = false) => send(res, status, JSON.stringify(value), "application/json", close)
const refuse = (res: http.ServerResponse, status: number, error: string) => json(res, status, { error }, true)

/** Serve the view on 127.0.0.1:`port` (0: a free port) while the layer's scope is open. */
export const viewServerLayer = (port: number): Layer.Layer<ViewServer, ConfigError, Jobs> =>
  Layer.effect(ViewServer)(Effect.gen(function*() {
    const jobs = yield* Jobs
    const context = yield* Effect.context<Jobs>()
    const run = Effect.runPromiseExitWith(context)
    /** Token hash → job id, and job id → token. */
    const byHash = new Map<string, string>()
    const byJob = new Map<string, string>()
    let bound = port

    const forget = (jobId: string) => {
      const token = byJob.get(jobId)
      if (token === undefined) return
      byJob.delete(jobId)
      byHash.delete(hash(token))
    }

    const url = (jobId: string) => {
      let token = byJob.get(jobId)
      if (token === undefined) {
        if (byJob.size >= MAX_TOKENS) forget(byJob.keys().next().value!)
        token = randomBytes(16).toString("base64url")
        byJob.set(jobId, token)
        byHash.set(hash(token), jobId)
      }
      return `http://${VIEW_BIND}:${bound}/v/${token}`
    }

    const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
      // Only what the request line and headers say decides, before any body is read.
      const host = hostnameOfHostHeader(req.headers.host ?? "")
      if (host === undefined || !isLoopback(host)) return refuse(res, 403, "the Host header must name this machine")
      const target = req.url ?? ""
      if (!target.startsWith("/v/")) return refuse(res, 404, "not found")
      const q = target.indexOf("?")
      const path = q < 0 ? target : target.slice(0, q)
      const [, , token = "", ...rest] = path.split("/")
      const jobId = byHash.get(hash(token))
      if (jobId === undefined) return refuse(res, 404, "not found")
      const hasBody = (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") ||
        req.headers["transfer-encoding"] !== undefined
      if (hasBody) return refuse(res, 413, "no request body is accepted")
      const route = rest.join("/")
      const method = req.method ?? "GET"
      if (method === "POST") {
        const origin = req.headers.origin
        if (origin !== undefined && origin !== `http://${req.headers.host}`) return refuse(res, 403, "requests from a page of another origin are refused")
        const sig = /^signal\/(TERM|INT)$/.exec(route)?.[1] as "TERM" | "INT" | undefined
        if (sig === undefined) return refuse(res, 404, "not found")
        const exit = await run(jobs.signal(jobId, sig))
        if (exit._tag === "Failure") return refuse(res, 404, "no such job")
        return json(res, 200, { status: exit.value.job.status })
      }
      if (method !== "GET" && method !== "HEAD") return refuse(res, 405, "method not allowed")
      if (route === "") {
        const html = await readViewHtml()
        return send(res, 200, html.replace(/<head>/i, `<head>${STANDALONE_META}`), "text/html")
      }
      if (route === "job") {
        const exit = await run(jobs.get(jobId))
        if (exit._tag === "Failure") {
          forget(jobId)
          return refuse(res, 404, "no such job")
        }
        return json(res, 200, { job_id: jobId, label: exit.value.label, host: exit.value.host })
      }
      if (route === "tail") {
        const params = new URLSearchParams(q < 0 ? "" : target.slice(q + 1))
        const since = Math.max(0, Math.floor(Number(params.get("since") ?? "0")) || 0)
        const wait = Math.min(VIEW_MAX_WAIT_MS, Math.max(0, Math.floor(Number(params.get("wait") ?? "0")) || 0))
        const aborted = new AbortController()
        res.once("close", () => aborted.abort())
        const exit = await run(jobs.tail({ jobId, since, waitMs: wait, minLines: 1, maxLines: 500, maxBytes: 262_144, stream: "both" }), {
          signal: aborted.signal
        })
        if (res.destroyed) return
        if (exit._tag === "Failure") {
          forget(jobId)
          return refuse(res, 404, "no such job")
        }
        const t = exit.value
        return json(res, 200, {
          job_id: jobId,
          lines: t.lines,
          next_line_no: t.nextLineNo,
          dropped: t.dropped,
          partial: t.partial,
          more: t.more,
          status: t.job.status,
          exit_status: t.job.exitStatus,
          signal: t.job.signal,
          awaiting_input: t.job.awaitingInput,
          prompt: t.job.prompt
        })
      }
      return refuse(res, 404, "not found")
    }

    const server = http.createServer({
      maxHeaderSize: 8192,
      requestTimeout: 10_000,
      headersTimeout: 5_000,
      keepAliveTimeout: 5_000,
      // How often the timeouts above are checked (Node's default is every 30 s).
      connectionsCheckingInterval: 1_000
    }, (req, res) => {
      req.on("error", () => undefined)
      res.on("error", () => undefined)
      handle(req, res).catch(() => {
        if (!res.headersSent) refuse(res, 500, "internal error")
        else res.destroy()
      })
    })
    server.maxConnections = VIEW_MAX_CONNECTIONS
    server.maxHeadersCount = 64
    server.on("clientError", (_e, socket) => socket.destroy())

    bound = yield* Effect.acquireRelease(
      Effect.callback<number, ConfigError>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new ConfigError({ message: `--view-port: cannot listen on ${VIEW_BIND}:${port}: ${e.message}` }))))
        server.listen(port, VIEW_BIND, () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
        })
      }),
      () =>
        Effect.promise(() => {
          server.closeAllConnections()
          return new Promise<void>((resolve) => server.close(() => resolve()))
        })
    )
    const release = addOwnListener(VIEW_BIND, bound)
    yield* Effect.addFinalizer(() => Effect.sync(release))
    process.stderr.write(`mcp-ssh-live: live view on http://${VIEW_BIND}:${bound}/ (each job's page: view_url in ssh_spawn / ssh_tail results)\n`)
    return ViewServer.of({ url, port: bound })
  }))
