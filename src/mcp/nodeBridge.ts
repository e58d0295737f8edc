/**
 * Node's `http` request → a web `Request` → a handler → Node's response: what lets the
 * SDK's web-standard transport serve on `node:http`.
 *
 * Why a bridge of our own (issue 15 asked for a library one if shorter and as safe):
 * - the installed SDK v2 (`@modelcontextprotocol/server`) ships only the web-standard
 *   transport; its Node wrapper is a separate package we do not depend on (SDK 1.x is a
 *   test dependency only, for the client matrix);
 * - `@effect/platform-node`'s `NodeHttpServer` with `HttpServerRequest.toWeb` /
 *   `HttpServerResponse.fromWeb` would still need every check below (its `toURL` accepts
 *   an absolute-form target and keeps that target's host; the body cap and its 413), and
 *   it sends a streamed response's headers only with the first chunk: a standalone GET SSE
 *   stream (the SDK enqueues nothing until a notification) would leave the client waiting.
 *   The in-flight count of a session also needs the end of the streamed body, which ends
 *   after the app's fiber there. Nothing shorter or as well tested came out of it.
 *
 * The URL is built only from an origin-form target (`/path`) and a well-formed Host:
 * anything else is a 400 (an absolute-form target or `Host: x:99999` made `new URL`
 * throw and took the process down). Each request is first put to `admit` with its headers
 * alone: a refusal is sent at once and the connection closed, its body never read (500
 * tokenless 4 MiB bodies, read before the token check, took the server to 2.1 GB).
 * Bodies are capped at MAX_BODY_BYTES (413).
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import type * as net from "node:net"
import { hostnameOfHostHeader } from "../loopback.js"

export const MAX_BODY_BYTES = 4 * 1024 * 1024

export interface WebHandler {
  /**
   * Decides from the request line and headers alone, before any of the body is read: a
   * refusal (sent with `connection: close`), or undefined to read the body and `handle` it.
   * `socket` is the connection the request came on.
   */
  readonly admit: (request: Request, path: string, socket: net.Socket) => Response | undefined
  /**
   * Serves one admitted request: its web request, its body (read once, as text) and
   * `onDone`, which registers what to run when the exchange is over (the response
   * streamed to its end, or the client gone).
   */
  readonly handle: (
    request: Request,
    body: string | undefined,
    onDone: (f: () => void) => void
  ) => Promise<Response>
}

const refuse = (res: http.ServerResponse, status: number, message: string) => {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null })
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" })
  res.end(body)
}

export const serveNode = async (req: http.IncomingMessage, res: http.ServerResponse, handler: WebHandler): Promise<void> => {
  const target = req.url ?? ""
  if (!target.startsWith("/") || target.startsWith("//")) return refuse(res, 400, "Bad Request: the request target must be a path")
  const host = req.headers.host
  if (host === undefined || hostnameOfHostHeader(host) === undefined) return refuse(res, 400, "Bad Request: malformed Host header")
  const method = req.method ?? "GET"
  let url: URL
  let headers: Headers
  let refused: Response | undefined
  try {
    url = new URL(target, `http://${host}`)
    headers = new Headers()
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue
      for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value)
    }
    refused = handler.admit(new Request(url, { method, headers }), url.pathname, req.socket)
  } catch {
    return refuse(res, 400, "Bad Request: malformed request")
  }
  if (refused !== undefined) return send(res, refused, true)
  const hasBody = method !== "GET" && method !== "HEAD"
  const body = hasBody ? await readBody(req) : undefined
  if (body === "aborted") return void res.end()
  if (body === "too large") return refuse(res, 413, "Payload Too Large")
  const aborted = new AbortController()
  const request = new Request(url, { method, headers, signal: aborted.signal, ...(body !== undefined ? { body } : {}) })
  const done: Array<() => void> = []
  res.once("close", () => {
    aborted.abort()
    for (const f of done) f()
  })
  return send(res, await handler.handle(request, body, (f) => done.push(f)), false)
}

/** Write `response` to `res`, streaming its body; `close`: and close the connection after it. */
const send = async (res: http.ServerResponse, response: Response, close: boolean): Promise<void> => {
  res.writeHead(response.status, { ...Object.fromEntries(response.headers), ...(close ? { connection: "close" } : {}) })
  if (response.body === null) return void res.end()
  // An SSE stream may stay silent for a long time: the client needs its headers now.
  res.flushHeaders()
  const reader = response.body.getReader()
  const stop = () => void reader.cancel().catch(() => undefined)
  res.once("close", stop)
  try {
    for (;;) {
      const { done: finished, value } = await reader.read()
      if (finished || res.destroyed) break
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go)
            res.off("close", go)
            resolve()
          }
          res.on("drain", go)
          res.on("close", go)
        })
      }
    }
  } finally {
    res.off("close", stop)
    res.end()
  }
}

/** The whole body as text; "too large" past MAX_BODY_BYTES (declared or sent); "aborted" when the client left. */
const readBody = (req: http.IncomingMessage) =>
  new Promise<string | "too large" | "aborted">((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return resolve("too large")
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data")
        req.resume()
        resolve("too large")
      } else chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
    req.on("close", () => resolve("aborted"))
  })
