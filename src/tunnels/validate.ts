/**
 * The checks on an ssh_tunnel_open request, each failure naming the field.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { InvalidArgumentError } from "../domain/errors.js"
import type { TunnelRequest } from "../domain/tunnels.js"
import { isLoopback } from "../loopback.js"
import { isOwnListener } from "./ownListeners.js"

export const validate = (request: TunnelRequest, allowBindAny: boolean): Effect.Effect<void, InvalidArgumentError> => {
  const bad = (message: string, hint?: string) =>
    Effect.fail(new InvalidArgumentError(hint === undefined ? { message } : { message, hint }))
  const { kind } = request
  if (!Number.isInteger(request.bindPort) || request.bindPort < 0 || request.bindPort > 65535) {
    return bad(`bind_port: expected 0-65535 (0 picks a free port), got ${request.bindPort}`)
  }
  if (kind === "dynamic") {
    if (request.targetHost !== undefined) return bad("target_host: not used by a dynamic tunnel (the SOCKS client names each target)")
    if (request.targetPort !== undefined) return bad("target_port: not used by a dynamic tunnel (the SOCKS client names each target)")
  } else {
    if (request.targetHost === undefined) return bad(`target_host: required for a ${kind} tunnel`)
    if (request.targetPort === undefined) return bad(`target_port: required for a ${kind} tunnel`)
    if (request.targetHost === "" || request.targetHost.length > 255 || request.targetHost.includes("\u0000")) {
      return bad("target_host: expected a host name or address of 1-255 characters")
    }
    if (!Number.isInteger(request.targetPort) || request.targetPort < 1 || request.targetPort > 65535) {
      return bad(`target_port: expected 1-65535, got ${request.targetPort}`)
    }
    if (kind === "remote" && isOwnListener(request.targetHost, request.targetPort)) {
      return bad(
        `target_port: ${request.targetHost}:${request.targetPort} is this server's own listener (the MCP endpoint or the live view); a remote tunnel may not lead to it`,
        "these endpoints are for this machine only: do not expose them on the host"
      )
    }
  }
  const bindAddress = request.bindAddress ?? "127.0.0.1"
  if (bindAddress === "" || bindAddress.length > 255 || bindAddress.includes("\u0000")) {
    return bad("bind_address: expected an address of 1-255 characters")
  }
  if (kind !== "remote" && !isLoopback(bindAddress) && !allowBindAny) {
    return bad(
      `bind_address: ${bindAddress} is not a loopback address; a tunnel listening beyond this machine needs the server flag --allow-tunnel-bind-any`,
      "use 127.0.0.1 (the default), ::1 or localhost; or ask the operator to start the server with --allow-tunnel-bind-any ([server] allow_tunnel_bind_any)"
    )
  }
  return Effect.void
}
