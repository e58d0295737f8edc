/**
 * The checks every HTTP request passes before MCP sees it: the bearer token (compared
 * in constant time) and, on a loopback bind, Host and Origin naming this machine (DNS
 * rebinding). Refusals are JSON-RPC error bodies, as the SDK's own are.
 *
 * @since 0.1.0
 */
import { timingSafeEqual } from "node:crypto"
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
