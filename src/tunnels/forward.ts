/**
 * What a local or dynamic tunnel does with a connection it accepted: open a stream from the
 * host to the target (for a dynamic one, the target a SOCKS5 handshake names) and join them.
 *
 * @since 0.1.0
 */
import type * as net from "node:net"
import type { Duplex } from "node:stream"
import { Effect, type Scope } from "effect"
import type { ConnectFailure, ForwardRefusedError } from "../domain/errors.js"
import {
  MAX_HANDSHAKE_BYTES,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  methodReply,
  parseGreeting,
  parseRequest,
  Reply,
  replyForRefusal,
  requestReply,
  type ConnectRequest as SocksTarget
} from "./socks5.js"
import { endWith, failed, join, origin, type Traffic } from "./traffic.js"

/** How long a SOCKS client may take to say where it goes. */
const SOCKS_HANDSHAKE_MS = 10_000

/** A stream from the tunnel's host to `host:port` (Connections.forwardOut for one host), destroyed with the scope. */
export type ForwardOut = (
  host: string,
  port: number,
  origin: { readonly address: string; readonly port: number }
) => Effect.Effect<Duplex, ConnectFailure | ForwardRefusedError, Scope.Scope>

/**
 * Relay `socket` and `stream` until both are closed (the scope destroys `stream` if interrupted
 * first). A stream already gone (sshd closed it before we got here) would never say so again:
 * the connection is closed instead of waiting for that.
 */
const relayed = (traffic: Traffic, socket: net.Socket, stream: Duplex) =>
  Effect.callback<void>((resume) => {
    if (stream.destroyed) {
      socket.destroy()
      return resume(Effect.void)
    }
    join(traffic, socket, stream, () => resume(Effect.void))
  })

/**
 * A local connection: a stream from the host to the target, or the connection closed. Runs
 * as long as the connection: interrupted (the tunnel closed), the stream is destroyed, even
 * one that sshd opens after that.
 */
export const forwardLocal = (forwardOut: ForwardOut, traffic: Traffic, socket: net.Socket, host: string, port: number) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = yield* Effect.result(forwardOut(host, port, origin(socket)))
    if (opened._tag === "Failure") {
      failed(traffic, opened.failure.message)
      socket.destroy()
      return
    }
    if (socket.destroyed) return
    yield* relayed(traffic, socket, opened.success)
  }))

/** Read a SOCKS5 greeting and CONNECT request; undefined when the client is refused or gone. */
const socksHandshake = (traffic: Traffic, socket: net.Socket) =>
  Effect.callback<SocksTarget | undefined>((resume) => {
    let buffered = Buffer.alloc(0)
    let greeted = false
    const finish = (target: SocksTarget | undefined, why?: string) => {
      socket.pause()
      socket.removeListener("data", onData)
      socket.removeListener("close", onClose)
      socket.setTimeout(0)
      if (why !== undefined) failed(traffic, why)
      resume(Effect.succeed(target))
    }
    const refuse = (why: string, reply?: Uint8Array) => {
      if (reply === undefined) socket.destroy()
      else endWith(socket, reply)
      finish(undefined, `SOCKS: ${why}`)
    }
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!greeted) {
        const g = parseGreeting(buffered)
        if (g._tag === "Invalid") return refuse(g.reason)
        if (g._tag === "Incomplete") return buffered.length > MAX_HANDSHAKE_BYTES ? refuse("greeting too long") : undefined
        if (!g.value.noAuth) return refuse("the client offers no \"no authentication\" method", methodReply(METHOD_NONE_ACCEPTABLE))
        greeted = true
        socket.write(methodReply(METHOD_NO_AUTH))
        buffered = buffered.subarray(g.consumed)
      }
      const r = parseRequest(buffered)
      if (r._tag === "Invalid") return refuse(r.reason, r.reply === undefined ? undefined : requestReply(r.reply))
      if (r._tag === "Incomplete") return buffered.length > MAX_HANDSHAKE_BYTES ? refuse("request too long") : undefined
      // Bytes sent ahead of our reply belong to the target: give them back to the stream.
      const rest = buffered.subarray(r.consumed)
      finish(r.value)
      if (rest.length > 0) socket.unshift(rest)
    }
    const onClose = () => finish(undefined)
    socket.on("data", onData)
    socket.once("close", onClose)
    socket.setTimeout(SOCKS_HANDSHAKE_MS, () => refuse(`no request within ${SOCKS_HANDSHAKE_MS / 1000} s`))
    return Effect.sync(() => {
      socket.removeListener("data", onData)
      socket.removeListener("close", onClose)
      socket.setTimeout(0)
    })
  })

/** A SOCKS5 connection: a stream from the host to the target it names, or a refusal reply; runs as long as the connection. */
export const forwardSocks = (forwardOut: ForwardOut, traffic: Traffic, socket: net.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* socksHandshake(traffic, socket)
    if (target === undefined) return
    const opened = yield* Effect.result(forwardOut(target.host, target.port, origin(socket)))
    if (opened._tag === "Failure") {
      const e = opened.failure
      failed(traffic, e.message)
      endWith(socket, requestReply(e._tag === "ForwardRefusedError" ? replyForRefusal(e.reason, e.message) : Reply.GENERAL_FAILURE))
      return
    }
    if (socket.destroyed) return
    socket.write(requestReply(Reply.SUCCEEDED))
    yield* relayed(traffic, socket, opened.success)
  }))
