/**
 * ssh2's failures, classified: by their reason codes where ssh2 gives one (a channel
 * open failure carries the server's `reason`), else by the level ssh2 puts on them.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import { AuthError, ConnectError, TimeoutError } from "../domain/errors.js"

/** RFC 4254 §5.1: why a server refused to open a channel. */
export const ChannelOpenReason = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4
} as const

/** Why a channel did not open. */
export type ChannelOpenFailure =
  /** The connection is gone (ssh2 threw "Not connected", or failed the request on close): nothing ran. */
  | { readonly _tag: "ConnectionGone" }
  /** The server refused with a reason code (OpenSSH past MaxSessions: administratively prohibited). */
  | { readonly _tag: "Refused"; readonly reason: number; readonly message: string }
  | { readonly _tag: "Failed"; readonly message: string }

/**
 * The connection under a request is gone (ssh2 threw "Not connected", or failed the request
 * as the connection closed): nothing ran, and the caller connects again. Never reaches the
 * agent: the adapters retry on a new connection.
 */
export class ConnectionGoneError extends Data.TaggedError("ConnectionGoneError")<{}> {}

/**
 * `error` from opening a channel: `thrown` when ssh2 threw at the call (it does so only on a
 * connection that is not connected), `connectionClosed` when the connection's close event has
 * been seen (ssh2 fails the requests still pending right after it).
 */
export const classifyChannelError = (error: unknown, thrown: boolean, connectionClosed: boolean): ChannelOpenFailure => {
  if (thrown || connectionClosed) return { _tag: "ConnectionGone" }
  const message = error instanceof Error ? error.message : String(error)
  const reason = typeof error === "object" && error !== null && "reason" in error ? error.reason : undefined
  return typeof reason === "number" ? { _tag: "Refused", reason, message } : { _tag: "Failed", message }
}

/**
 * Whether refusing a session channel means the connection has no room for more (sshd's
 * MaxSessions): OpenSSH refuses one past the limit with its default reason, CONNECT_FAILED
 * ("open failed"); other servers say ADMINISTRATIVELY_PROHIBITED or RESOURCE_SHORTAGE. Only
 * UNKNOWN_CHANNEL_TYPE says the server will never open one.
 */
export const isChannelLimit = (failure: ChannelOpenFailure): boolean =>
  failure._tag === "Refused" && failure.reason !== ChannelOpenReason.UNKNOWN_CHANNEL_TYPE

/** An error ssh2 emitted during a handshake, as ssh2 levels it. */
export interface HandshakeError {
  readonly message: string
  readonly level?: string | undefined
  readonly code?: string | number | undefined
}

/**
 * The typed failure for a handshake error. ssh2 gives no code for a failed algorithm
 * negotiation (only its message, "Handshake failed: no matching …"), so that one case is
 * recognised by its text.
 */
export const connectFailure = (
  err: HandshakeError,
  where: string,
  readyTimeoutMs: number,
  tried: ReadonlyArray<string>
): AuthError | TimeoutError | ConnectError => {
  if (err.level === "client-authentication") {
    return new AuthError({
      message: `authentication failed for ${where}; tried: ${tried.length > 0 ? tried.join(", ") : "nothing usable"}`,
      hint: "check user, password/password_env, key_path and passphrase; or load the key into ssh-agent"
    })
  }
  if (err.level === "client-timeout") {
    return new TimeoutError({ message: `no SSH handshake with ${where} within ${readyTimeoutMs} ms` })
  }
  const legacy = /no matching/i.test(err.message)
  return new ConnectError({
    message: `cannot connect to ${where}: ${err.code !== undefined ? `${err.code} ` : ""}${err.message}`,
    ...(legacy
      ? { hint: "the server offers only algorithms we do not by default (weak ones such as ssh-rsa or hmac-sha1); the operator can allow them in [server.algorithms] (docs/CONFIG.md)" }
      : {})
  })
}
