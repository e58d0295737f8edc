/**
 * Live SSH connections per host alias, opened on demand and closed with the service's
 * scope: a facade over `src/ssh/` (`SshClient` for a scoped connection, `ChannelPool`
 * for the channels of a host past MaxSessions). A dropped connection is reconnected in the
 * background (exponential from `reconnect_delay_sec`, jittered, `reconnect_retries` times);
 * once an attempt has failed the host is known to be down, and calls fail at once with
 * `HOST_DOWN` and the reconnect's state instead of waiting out its backoff. A call that
 * finds no connection and no reconnect under way makes one attempt itself.
 * Channels (exec, SFTP, forwarded streams) and remote listeners are scoped resources: they
 * are closed with the caller's scope, even when they arrive after it was interrupted.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"
import type { SFTPWrapper } from "ssh2"
import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { type ChannelError, type ConnectFailure, ForwardRefusedError, HostDownError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import { type ChannelPool, type CloseChannel, makeChannelPool, type OpenChannel } from "../ssh/ChannelPool.js"
import type { UnknownHostKey, UnknownHostKeyDecision } from "../ssh/hostKeyPolicy.js"
import type { AuthQuestion } from "../ssh/keyboardInteractive.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import type { ExecOptions } from "../ssh/RemoteHosts.js"
import { scopedCallback } from "../ssh/scopedCallback.js"
import { ChannelOpenReason, classifyChannelError, ConnectionGoneError } from "../ssh/sshErrors.js"
import { type ClosingChannel, type Endpoint, type SshConnection, SshClient } from "../ssh/SshClient.js"
import { HostRegistry } from "./HostRegistry.js"

export type { AuthQuestion, ConnectFailure, Endpoint, ExecOptions, UnknownHostKey, UnknownHostKeyDecision }

/** A listener sshd holds for us on a host (`ssh -R`), on one connection. */
export interface RemoteListener {
  /** The port sshd listens on (the one it picked when 0 was asked). */
  readonly port: number
  /** Completes when the connection carrying the listener is gone (sshd has dropped it). */
  readonly closed: Effect.Effect<void>
}

/** What `ssh_connect` reports about an open connection. */
export interface ConnectionInfo {
  readonly alias: string
  readonly address: string
  readonly port: number
  readonly user: string
  /** The method that authenticated: publickey, password, keyboard-interactive, agent. */
  readonly authMethod: string
  /** SHA256 fingerprint of the server's host key, as `ssh-keygen -l` prints it. */
  readonly hostKeyFingerprint: string
  /** The server's identification string, e.g. `OpenSSH_9.2p1 Debian-2`. */
  readonly serverBanner: string
  readonly connectedAt: Date
}

export interface ConnectOptions {
  /** Asked when the host key is unknown (e.g. MCP elicitation); without it the key is refused. */
  readonly onUnknownHostKey?: (key: UnknownHostKey) => Effect.Effect<UnknownHostKeyDecision>
  /**
   * Asked for keyboard-interactive answers other than the password (a one-time code); without
   * it (a background reconnect, a client without elicitation) the connect fails with
   * AUTH_PROMPT_UNANSWERED naming the prompt.
   */
  readonly onAuthPrompt?: (question: AuthQuestion) => Effect.Effect<ReadonlyArray<string> | undefined>
}

/** A host's connections, from the first handshake until disconnect, a drop or shutdown. */
interface Live {
  readonly pool: ChannelPool
  readonly info: ConnectionInfo
  /** The pool's scope: closing it ends every connection to the host. */
  readonly scope: Scope.Closeable
}

/** Where a background reconnect stands, once one of its attempts has failed. */
export interface HostDown {
  /** When the connection was lost. */
  readonly since: Date
  /** Attempts made so far (all failed), and how many there will be at most. */
  readonly attempts: number
  readonly maxAttempts: number
  readonly nextAttemptAt: Date
  readonly lastError: string
}

/** A host being connected (`ready` pending) or connected. */
interface Slot {
  readonly ready: Deferred.Deferred<Live, ConnectFailure>
  live?: Live
  /** Set while a background reconnect waits for its next attempt (the host is down). */
  down: HostDown | undefined
  /** Completes when `down` is first set: callers waiting on `ready` fail at once. */
  readonly known: Deferred.Deferred<HostDown>
  /** Made by a background reconnect (after a drop), not by a call. */
  readonly background: boolean
}

const isOpen = (live: Live) => !Deferred.isDoneUnsafe(live.pool.first.closed)

/** Failures worth another attempt: the host may be back in a moment. */
const transient = (e: ConnectFailure) => e._tag === "ConnectError" || e._tag === "TimeoutError"

/** The waits between reconnect attempts: exponential from `delaySec`, each scaled by 0.8–1.2 (`Schedule.jittered`). */
export const reconnectSchedule = (delaySec: number) => Schedule.exponential(Duration.millis(delaySec * 1000)).pipe(Schedule.jittered)

/** HOST_DOWN for `alias`, with the reconnect's state. */
const hostDownError = (alias: string, down: HostDown, now: number) =>
  new HostDownError({
    message: `${alias} is down since ${down.since.toISOString()}: reconnect attempt ${down.attempts} of ${down.maxAttempts} ` +
      `failed (${down.lastError}); the next is at ${down.nextAttemptAt.toISOString()} ` +
      `(in ${Math.max(0, Math.ceil((down.nextAttemptAt.getTime() - now) / 1000))} s)`,
    hint: "retry after that; jobs on the host are shown with host_connected: false meanwhile"
  })

export class Connections extends Context.Service<Connections, {
  /** Open (or reuse) the connection to `alias`. */
  connect(alias: string, options?: ConnectOptions): Effect.Effect<ConnectionInfo, ConnectFailure>
  /** Start `command` on `alias` in a new exec channel, connecting first when needed; the channel closes with the scope. */
  exec(alias: string, command: string, options?: ExecOptions): Effect.Effect<RemoteChannel, ConnectFailure | ChannelError, Scope.Scope>
  /** An SFTP session on `alias` (a channel like any other: it counts against MaxSessions), ended with the scope. */
  sftp(alias: string): Effect.Effect<SFTPWrapper, ConnectFailure | ChannelError, Scope.Scope>
  /** Close the connection to `alias` (no-op when not connected). */
  disconnect(alias: string): Effect.Effect<void>
  /** The open connection's info, if connected. */
  info(alias: string): Effect.Effect<ConnectionInfo | undefined>
  /** Completes when the current connection to `alias` closes (at once when not connected). */
  closed(alias: string): Effect.Effect<void>
  /**
   * A TCP stream from `alias` to `host:port` (`ssh -L`), connecting first when needed. sshd
   * refusing it (target unreachable, forwarding not allowed) is a `ForwardRefusedError` with its reason.
   * The stream is destroyed with the scope.
   */
  forwardOut(alias: string, host: string, port: number, origin: Endpoint): Effect.Effect<Duplex, ConnectFailure | ForwardRefusedError, Scope.Scope>
  /**
   * Have sshd on `alias` listen on `address:port` (`ssh -R`) on the current connection (connecting
   * first when needed); each connection made to it goes to `onConnection`. Listens until the scope
   * closes or the connection is gone (`closed`); a reconnect does not bring it back by itself.
   */
  forwardIn(
    alias: string,
    address: string,
    port: number,
    onConnection: (stream: Duplex, origin: Endpoint) => void
  ): Effect.Effect<RemoteListener, ConnectFailure | ForwardRefusedError, Scope.Scope>
}>()("mcp-ssh-live/Connections") {
  /** Connections over a given `SshClient` (tests give a fake one). */
  static readonly layerNoDeps = Layer.effect(Connections)(Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* HostRegistry
    const ssh = yield* SshClient
    const layerScope = yield* Effect.scope
    const hosts = new Map<string, Slot>()
    const retries = config.limits.reconnectRetries
    const delaySec = config.limits.reconnectDelaySec

    /** One attempt: the host's pool with its first connection, in a scope of its own. */
    const openHost = (entry: HostEntry, options: ConnectOptions | undefined) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(layerScope)
        const pool = yield* makeChannelPool({
          alias: entry.alias,
          first: ssh.open(entry, options),
          more: ssh.open(entry),
          idleMs: config.limits.extraConnectionIdleSec * 1000
        }).pipe(Scope.provide(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
        const { authMethod, hostKeyFingerprint, serverBanner } = pool.first
        const connectedAt = new Date(yield* Clock.currentTimeMillis)
        const info: ConnectionInfo = { alias: entry.alias, address: entry.address, port: entry.port, user: entry.user, authMethod, hostKeyFingerprint, serverBanner, connectedAt }
        return { pool, info, scope } satisfies Live
      })

    /** When the first connection drops (not closed by us): forget it and reconnect in the background. */
    const watch = (alias: string, slot: Slot, live: Live) =>
      Effect.forkIn(
        Effect.gen(function*() {
          yield* Deferred.await(live.pool.first.closed)
          // Extra connections may still carry channels: they end once idle, then the pool's scope.
          yield* Effect.forkIn(Effect.andThen(Deferred.await(live.pool.emptied), Scope.close(live.scope, Exit.void)), layerScope)
          if (hosts.get(alias) !== slot) return
          hosts.delete(alias)
          yield* Effect.logWarning(`connection to ${alias} lost; reconnecting`)
          yield* acquire(alias, undefined, new Date(yield* Clock.currentTimeMillis)).pipe(
            Effect.tap(() => Effect.logInfo(`reconnected ${alias}`)),
            Effect.catch((e) => Effect.logWarning(`gave up reconnecting ${alias}: ${e.message}; the next call will try again`))
          )
        }),
        layerScope
      )

    /**
     * Attempts of a background reconnect, until one connects, one fails for good, or
     * reconnect_retries retries have failed; `slot.down` says where it stands meanwhile.
     */
    const reconnect = (entry: HostEntry, slot: Slot, since: Date) =>
      openHost(entry, undefined).pipe(Effect.retry(
        reconnectSchedule(delaySec).pipe(
          Schedule.while(({ attempt, input }: Schedule.InputMetadata<ConnectFailure>) => transient(input) && attempt <= retries),
          // Only once another attempt is decided: callers learn at once that the host is down, and until when.
          Schedule.modifyDelay(({ attempt, duration, input, now }) =>
            Effect.gen(function*() {
              const delay = Math.round(Duration.toMillis(duration))
              const down = { since, attempts: attempt, maxAttempts: retries + 1, nextAttemptAt: new Date(now + delay), lastError: input.message }
              slot.down = down
              Deferred.doneUnsafe(slot.known, Exit.succeed(down))
              yield* Effect.logWarning(`reconnect to ${entry.alias} failed: ${input.message}; next attempt in ${delay} ms`)
              return delay
            })
          )
        )
      ))

    /** The host's connection, or HOST_DOWN at once while a background reconnect waits for its next attempt. */
    const awaitSlot = (alias: string, slot: Slot): Effect.Effect<Live, ConnectFailure> =>
      Effect.suspend(() => {
        const down = (d: HostDown) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(hostDownError(alias, d, now)))
        if (Deferred.isDoneUnsafe(slot.ready)) return Deferred.await(slot.ready)
        if (slot.down !== undefined) return down(slot.down)
        return Effect.raceFirst(Deferred.await(slot.ready), Effect.flatMap(Deferred.await(slot.known), down))
      })

    /**
     * The host's live connection: the current one, the one being made, or (`since`: after
     * the connection dropped at that time) a background reconnect's. A call that finds none
     * makes one attempt, without retries: a host that keeps failing is the reconnect's to wait for.
     */
    const acquire = (alias: string, options?: ConnectOptions, since?: Date): Effect.Effect<Live, ConnectFailure> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const entry = yield* registry.resolve(alias)
          for (let slot = hosts.get(entry.alias); slot !== undefined; slot = hosts.get(entry.alias)) {
            // A reconnect finds another already under way: that one is it.
            if (since !== undefined && slot.background) return yield* restore(Deferred.await(slot.ready))
            const found = yield* Effect.exit(restore(awaitSlot(entry.alias, slot)))
            if (Exit.isSuccess(found) && isOpen(found.value)) return found.value
            // A call's single attempt failed: a reconnect goes on with its own.
            if (Exit.isFailure(found) && since === undefined) return yield* found
            if (hosts.get(entry.alias) === slot) hosts.delete(entry.alias)
          }
          const slot: Slot = { ready: Deferred.makeUnsafe(), known: Deferred.makeUnsafe(), down: undefined, background: since !== undefined }
          hosts.set(entry.alias, slot)
          const attempt = since !== undefined ? reconnect(entry, slot, since) : openHost(entry, options)
          const exit = yield* Effect.exit(restore(attempt))
          slot.down = undefined
          if (Exit.isSuccess(exit)) {
            slot.live = exit.value
            yield* registry.connected(entry.alias)
            if (!hosts.has(entry.alias)) hosts.set(entry.alias, slot)
            yield* watch(entry.alias, slot, exit.value)
          } else if (hosts.get(entry.alias) === slot) {
            hosts.delete(entry.alias)
          }
          Deferred.doneUnsafe(slot.ready, exit)
          return yield* exit
        })
      )

    /** A new channel on `alias`; when every connection of its pool is gone, connect again. */
    const channel = <C extends ClosingChannel>(alias: string, open: OpenChannel<C>, close: CloseChannel<C>) =>
      Effect.gen(function*() {
        for (;;) {
          const live = yield* acquire(alias)
          const opened = yield* live.pool.channel(open, close)
          if (Option.isSome(opened)) return opened.value
          const slot = hosts.get(alias)
          if (slot?.live === live) hosts.delete(alias)
        }
      })

    /**
     * Run `use` on the host's first connection (forwardings ride on it, outside the channel
     * pool: they are not sessions, and sshd's refusals of them say nothing about MaxSessions).
     * ssh2 throws when the connection is gone: then connect again.
     */
    const onFirst = <A, E, R>(alias: string, use: (conn: SshConnection) => Effect.Effect<A, E | ConnectionGoneError, R>) =>
      Effect.gen(function*() {
        for (;;) {
          const live = yield* acquire(alias)
          const r = yield* Effect.result(use(live.pool.first))
          if (r._tag === "Success") return r.success
          const failure = r.failure
          if (failure instanceof ConnectionGoneError) {
            if (hosts.get(alias)?.live === live) hosts.delete(alias)
            continue
          }
          return yield* Effect.fail(failure)
        }
      })

    const forwardOut = (alias: string, host: string, port: number, origin: Endpoint) =>
      onFirst(alias, (conn) =>
        scopedCallback<Duplex, ForwardRefusedError | ConnectionGoneError>((stream) => void stream.destroy(), (resume) => {
          try {
            conn.forwardOut(host, port, origin, (err, stream) => {
              if (err === undefined || err === null) return resume(Exit.succeed(stream))
              const failure = classifyChannelError(err, false, Deferred.isDoneUnsafe(conn.closed))
              resume(Exit.fail(
                failure._tag === "ConnectionGone"
                  ? new ConnectionGoneError()
                  : new ForwardRefusedError({
                    message: `${alias} cannot connect to ${host}:${port}: ${failure.message}${
                      failure._tag === "Refused" && failure.reason === ChannelOpenReason.ADMINISTRATIVELY_PROHIBITED
                        ? " (administratively prohibited: sshd_config forbids it, e.g. AllowTcpForwarding or PermitOpen)"
                        : ""
                    }`,
                    ...(failure._tag === "Refused" ? { reason: failure.reason } : {})
                  })
              ))
            })
          } catch {
            resume(Exit.fail(new ConnectionGoneError()))
          }
        }))

    const forwardIn = (alias: string, address: string, port: number, onConnection: (stream: Duplex, origin: Endpoint) => void) =>
      Effect.gen(function*() {
        const [conn, bound] = yield* onFirst(alias, (conn) =>
          scopedCallback<readonly [SshConnection, number], ForwardRefusedError | ConnectionGoneError>(
            ([conn, bound]) => conn.unforwardIn(address, bound),
            (resume) => {
              try {
                conn.forwardIn(address, port, onConnection, (err, bound) => {
                  if (err === undefined || err === null) return resume(Exit.succeed([conn, bound] as const))
                  if (Deferred.isDoneUnsafe(conn.closed)) return resume(Exit.fail(new ConnectionGoneError()))
                  resume(Exit.fail(
                    new ForwardRefusedError({
                      message: `sshd on ${alias} refused to listen on ${address}:${port}`,
                      hint: "sshd_config may forbid it (AllowTcpForwarding no or local, PermitListen), the port may be in use on the host, or below 1024 for a non-root user"
                    })
                  ))
                })
              } catch {
                resume(Exit.fail(new ConnectionGoneError()))
              }
            }
          ))
        return { port: bound, closed: Deferred.await(conn.closed) } satisfies RemoteListener
      })

    const disconnect = (alias: string) =>
      Effect.gen(function*() {
        const slot = hosts.get(alias)
        hosts.delete(alias)
        if (slot?.live === undefined) return
        yield* Scope.close(slot.live.scope, Exit.void)
        yield* Effect.logInfo(`disconnected ${alias}`)
      })

    yield* Effect.addFinalizer(() => Effect.forEach([...hosts.keys()], disconnect, { discard: true }))

    const current = (alias: string) => {
      const live = hosts.get(alias)?.live
      return live !== undefined && isOpen(live) ? live : undefined
    }

    return Connections.of({
      connect: (alias, options) => Effect.map(acquire(alias, options), (l) => l.info),
      exec: (alias, command, options) =>
        channel<RemoteChannel & ClosingChannel>(alias, (conn, cb) => conn.exec(command, options?.pty === true, cb), (ch) => ch.close()),
      sftp: (alias) => channel<SFTPWrapper>(alias, (conn, cb) => conn.sftp(cb), (sftp) => sftp.end()),
      disconnect,
      info: (alias) => Effect.sync(() => current(alias)?.info),
      closed: (alias) => Effect.suspend(() => {
        const live = current(alias)
        return live === undefined ? Effect.void : Deferred.await(live.pool.first.closed)
      }),
      forwardOut,
      forwardIn
    })
  }))

  /** Connections over the live `SshClient`; needs AppConfig, HostRegistry and KnownHosts. */
  static readonly layer = Connections.layerNoDeps.pipe(Layer.provide(SshClient.layer))
}
