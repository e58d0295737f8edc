/**
 * The checks every HTTP request passes before MCP sees it, made on its headers before
 * any of its body is read: on a loopback bind, Host and Origin naming this machine (DNS
 * rebinding), the path, and the bearer token (compared in constant time). Refusals are
 * JSON-RPC error bodies, as the SDK's own are. The SDK's `hostHeaderValidationResponse`
 * and `originValidationResponse` take a list of host names; loopback here is all of
 * 127.0.0.0/8 and ::1, which no list holds.
 *
 * Connections that have not shown the token yet are capped too (`UnauthenticatedConnections`).
 *
 * @since 0.1.0
 */
import { timingSafeEqual } from "node:crypto"
import type * as net from "node:net"
import { Redacted } from "effect"
import { hostnameOfHostHeader, isLoopback } from "../loopback.js"

/** Whether the Authorization header is exactly `Bearer <token>` (constant time). */
export const tokenMatches = (header: string | null, token: Redacted.Redacted<string>): boolean => {
  const expected = Buffer.from(`Bearer ${Redacted.value(token)}`)
  const got = Buffer.from(header ?? "")
  return got.length === expected.length && timingSafeEqual(got, expected)
}

/** A JSON-RPC error response with no id. */
export const jsonError = (status: number, message: string, headers: Record<string, string> = {}, code = -32000): Response =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers }
  })

/** 403 unless Host and Origin (when present) name this machine. */
export const loopbackGuard = (request: Request): Response | undefined => {
  const host = hostnameOfHostHeader(request.headers.get("host") ?? "")
  if (host === undefined || !isLoopback(host)) {
    return jsonError(403, "Forbidden: the Host header must name this machine (localhost, 127.0.0.0/8 or [::1])")
  }
  const origin = request.headers.get("origin")
  if (origin === null) return undefined
  const url = URL.canParse(origin) ? new URL(origin) : undefined
  if (url === undefined || !isLoopback(url.hostname)) return jsonError(403, "Forbidden: requests from a web page of another origin are refused")
  return undefined
}

/**
 * Connections that have not yet sent a request with the token, oldest first. Past `max`
 * the oldest is closed: whoever opens connections without the token can hold at most
 * `max` of them (and the memory of their sockets), and a client with the token, which
 * sends its request as soon as it connects, still gets in.
 */
export class UnauthenticatedConnections {
  private readonly waiting = new Set<net.Socket>()
  constructor(private readonly max: number) {}

  /** A new connection. */
  add(socket: net.Socket): void {
    this.waiting.add(socket)
    socket.once("close", () => this.waiting.delete(socket))
    if (this.waiting.size <= this.max) return
    const oldest = this.waiting.values().next().value
    if (oldest === undefined) return
    this.waiting.delete(oldest)
    oldest.destroy()
  }

  /** The connection sent a request with the token. */
  authenticated(socket: net.Socket): void {
    this.waiting.delete(socket)
  }

  get size(): number {
    return this.waiting.size
  }
}
