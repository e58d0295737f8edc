/**
 * A remote tunnel's side here: each connection sshd accepted joined to the target, and the
 * loop that asks sshd to listen again after the connection carrying the forward is gone.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import type { Duplex } from "node:stream"
import { Duration, Effect, Exit, Schedule, Scope } from "effect"
import type { ConnectFailure, ForwardRefusedError } from "../domain/errors.js"
import { isOwnListener } from "./ownListeners.js"
import { admit, failed, join, track, type Traffic } from "./traffic.js"

/** The longest wait between two attempts to bring a remote forward back. */
const MAX_RETRY_DELAY_MS = 30_000

/** A connection sshd accepted for a remote tunnel: joined to the target on our side. */
export const onRemoteConnection = (traffic: Traffic, maxConnections: number, host: string, port: number) => (stream: Duplex) => {
  if (!admit(traffic, stream, maxConnections)) return
  const socket = net.connect({ host, port })
  track(traffic, socket)
  const onError = (e: Error) => {
    failed(traffic, `cannot connect to ${host}:${port}: ${e.message}`)
    stream.destroy()
  }
  socket.once("error", onError)
  socket.once("connect", () => {
    socket.removeListener("error", onError)
    if (stream.destroyed) return void socket.destroy()
    // A name that resolved to this machine: judged by where the connection actually went.
    if (isOwnListener(socket.remoteAddress ?? "", socket.remotePort ?? 0)) {
      failed(traffic, `${host}:${port} is this server's own listener; refused`)
      socket.destroy()
      return void stream.destroy()
    }
    join(traffic, stream, socket)
  })
  stream.once("close", () => {
    if (socket.connecting) socket.destroy()
  })
}

/**
 * The waits between attempts to bring a remote forward back: exponential from
 * `reconnect_delay_sec`, never under 250 ms nor over 30 s; it never gives up (the tunnel
 * closing ends it).
 */
export const relistenSchedule = (reconnectDelaySec: number) =>
  Schedule.exponential(Duration.millis(reconnectDelaySec * 1000)).pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.succeed(Duration.millis(Math.min(MAX_RETRY_DELAY_MS, Math.max(250, Duration.toMillis(duration)))))
    )
  )

/**
 * Keep a remote forward up: when the connection carrying it is gone, ask again on the next
 * one (the reconnect Connections makes, or one made here), on the same port, until the
 * tunnel closes.
 */
export const keepRemote = (
  alias: string,
  tunnelScope: Scope.Scope,
  traffic: Traffic,
  request: (port: number) => Effect.Effect<{ readonly closed: Effect.Effect<void> }, ConnectFailure | ForwardRefusedError, Scope.Scope>,
  port: number,
  first: { readonly closed: Effect.Effect<void>; readonly scope: Scope.Closeable },
  reconnectDelaySec: number
) =>
  Effect.gen(function*() {
    /** One attempt, its listener in a scope of its own within the tunnel's. */
    const listenAgain = Effect.gen(function*() {
      const scope = yield* Scope.fork(tunnelScope)
      const listener = yield* Scope.provide(request(port), scope).pipe(
        Effect.onError(() => Scope.close(scope, Exit.void)),
        Effect.tapError((e) =>
          Effect.andThen(
            Effect.sync(() => void (traffic.lastError = `cannot listen again: ${e.message}`)),
            Effect.logWarning(`remote tunnel on ${alias} port ${port}: ${e.message}`)
          )
        )
      )
      return { closed: listener.closed, scope }
    }).pipe(Effect.retry(relistenSchedule(reconnectDelaySec)))
    let current = first
    for (;;) {
      yield* current.closed
      yield* Scope.close(current.scope, Exit.void)
      traffic.lastError = "the connection dropped; asking sshd to listen again"
      current = yield* listenAgain
      traffic.lastError = undefined
      yield* Effect.logInfo(`remote tunnel on ${alias} port ${port} re-established`)
    }
  })
