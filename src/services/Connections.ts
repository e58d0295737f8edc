/**
 * Live SSH connections per host alias (a `ScopedCache`), opened on demand and closed with
 * the service's scope: a facade over `src/ssh/` (`SshClient` for a scoped connection, `ChannelPool`
 * for the channels of a host past MaxSessions). A dropped connection is reconnected in the
 * background (exponential from `reconnect_delay_sec`, jittered, `reconnect_retries` times);
 * once an attempt has failed the host is known to be down, and calls fail at once with
 * `HOST_DOWN` and the reconnect's state instead of waiting out its backoff. A call that
 * finds the connection dropped before its watch has noticed starts that reconnect and waits
 * for it; one that finds no connection and no reconnect under way makes one attempt itself.
 * Channels (exec, SFTP, forwarded streams) and remote listeners are scoped resources: they
 * are closed with the caller's scope, even when they arrive after it was interrupted.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"
import type { SFTPWrapper } from "ssh2"
import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Schedule, Scope, ScopedCache } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { type ChannelError, type ConnectFailure, ForwardRefusedError, HostDownError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import { type ChannelPool, type CloseChannel, makeChannelPool, type OpenChannel } from "../ssh/ChannelPool.js"
import type { UnknownHostKey, UnknownHostKeyDecision } from "../ssh/hostKeyPolicy.js"
import type { AuthQuestion } from "../ssh/keyboardInteractive.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import { LAUNCHER } from "../ssh/shell.js"
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

/** A launcher started ahead of need (`LAUNCHER`), waiting for its command. */
interface Spare {
  readonly channel: RemoteChannel & ClosingChannel
  /** Closing it closes the channel. */
  readonly scope: Scope.Closeable
  /** It ended before it was used (the connection dropped, someone killed it). */
  dead: boolean
}

/** A host's connections, from the first handshake until disconnect, a drop or shutdown. */
interface Live {
  readonly pool: ChannelPool
  readonly info: ConnectionInfo
  /** The pool's scope: closing it ends every connection to the host. */
  readonly scope: Scope.Closeable
  /** The next plain launcher's channel, started ahead of need on the first connection. */
  spare: Spare | undefined
  /** A spare is being started. */
  starting: boolean
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

/** A background reconnect under way (after a drop). */
interface Reconnecting {
  /** Its outcome: the connection, or the failure it gave up on. */
  readonly done: Deferred.Deferred<Live | undefined, ConnectFailure>
  /** Set once an attempt has failed and the next is decided (the host is down). */
  down: HostDown | undefined
  /** Completes when `down` is first set: calls waiting on `done` fail at once. */
  readonly known: Deferred.Deferred<HostDown>
}

/** The interactive hooks of the call whose lookup makes a connection (none: a background reconnect). */
const ConnectHooks = Context.Reference<ConnectOptions>("mcp-ssh-live/Connections/ConnectHooks", { defaultValue: () => ({}) })

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
    const reconnecting = new Map<string, Reconnecting>()
    const retries = config.limits.reconnectRetries
    const delaySec = config.limits.reconnectDelaySec

    /** One attempt: the host's pool with its first connection, in a scope of its own. */
    const openHost = (entry: HostEntry, options: ConnectOptions) =>
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
        // The spare launcher is started by the first command that could use one (not here: a
        // host used only for transfers or tunnels keeps no idle shell).
        const live: Live = { pool, info, scope, spare: undefined, starting: false }
        return live
      })

    /**
     * Start a plain launcher on the host's first connection, for the next command to use:
     * it prints its PID and waits, so that command's output comes one round trip after its
     * block is sent instead of three (open, exec, block). Never at the cost of a connection:
     * when the first one has no room, there is no spare. An idle `sh` on the host meanwhile;
     * it ends with the connection (its stdin closes).
     */
    const prestart = (live: Live) =>
      Effect.suspend(() => {
        if (live.spare !== undefined || live.starting || !isOpen(live)) return Effect.void
        live.starting = true
        return Effect.forkIn(
          Effect.gen(function*() {
            // A scope of its own (within the host's): closed by whoever takes it, or with the host.
            const scope = yield* Scope.fork(live.scope)
            const opened = yield* live.pool.onFirst<RemoteChannel & ClosingChannel>((conn, cb) => conn.exec(LAUNCHER, {}, cb), (ch) => ch.close())
              .pipe(Scope.provide(scope))
            if (Option.isNone(opened)) return yield* Scope.close(scope, Exit.void)
            const channel = opened.value
            const spare: Spare = { channel, scope, dead: false }
            const gone = () => {
              spare.dead = true
              if (live.spare === spare) live.spare = undefined
            }
            // Unread, the channel would not emit "close" (ssh2 waits for the end of its data):
            // its shell ending (killed) shows as "exit".
            channel.on("exit", gone)
            channel.on("close", gone)
            // Closed already when stderr says why: ignored, as a failed exec is.
            channel.on("error", () => {})
            live.spare = spare
          }).pipe(Effect.ensuring(Effect.sync(() => (live.starting = false)))),
          live.scope
        )
      })

    /** The spare launcher, if one is waiting (another is started in its place). */
    const takeSpare = (live: Live) =>
      Effect.suspend(() => {
        const spare = live.spare
        live.spare = undefined
        return Effect.as(prestart(live), spare !== undefined && !spare.dead ? spare : undefined)
      })

    /**
     * The live connection per alias. A lookup is one attempt, made with the hooks of the call
     * that started it (the lookup runs with its caller's services); concurrent calls share it.
     * A failure is not kept: the next call tries again. Invalidating an entry ends its pool,
     * unless its connection dropped: then the pool ends once its channels are done (`watch`).
     */
    const hosts: ScopedCache.ScopedCache<string, Live, ConnectFailure> = yield* ScopedCache.makeWith({
      lookup: (alias: string) =>
        Effect.uninterruptibleMask((restore) => Effect.gen(function*() {
          const hooks = yield* ConnectHooks
          const live = yield* restore(Effect.flatMap(registry.resolve(alias), (entry) => openHost(entry, hooks)))
          yield* Effect.addFinalizer(() => isOpen(live) ? Scope.close(live.scope, Exit.void) : Effect.void)
          yield* registry.connected(alias)
          yield* watch(alias, live)
          return live
        })),
      capacity: Number.POSITIVE_INFINITY,
      timeToLive: (exit) => Exit.isSuccess(exit) ? Duration.infinity : Duration.zero
    })

    /** `live` is no longer the host's connection (no-op when another has taken its place); whether it was. */
    const forget = (alias: string, live: Live) => ScopedCache.invalidateWhen(hosts, alias, (l) => l === live)

    /** When the first connection drops (not closed by us): forget it and reconnect in the background. */
    const watch = (alias: string, live: Live): Effect.Effect<unknown> =>
      Effect.forkIn(
        Effect.gen(function*() {
          yield* Deferred.await(live.pool.first.closed)
          const since = new Date(yield* Clock.currentTimeMillis)
          // Extra connections may still carry channels: they end once idle, then the pool's scope.
          yield* Effect.forkIn(Effect.andThen(Deferred.await(live.pool.emptied), Scope.close(live.scope, Exit.void)), layerScope)
          yield* dropped(alias, live, since)
        }),
        layerScope
      )

    /**
     * `live` dropped (its watch saw it, or a call did first): forget it and reconnect. The
     * reconnect is registered before the forget, which closes the cache entry's scope and may
     * take turns: a call meanwhile waits for the reconnect instead of finding neither a
     * connection nor a reconnect. Forgotten by another first (a disconnect, or the other of
     * the two), there is nothing to reconnect: calls that found this one look again.
     */
    const dropped = (alias: string, live: Live, since: Date) =>
      Effect.suspend(() => {
        const previous = reconnecting.get(alias)
        const r: Reconnecting = { done: Deferred.makeUnsafe(), known: Deferred.makeUnsafe(), down: undefined }
        reconnecting.set(alias, r)
        return Effect.flatMap(forget(alias, live), (forgotten) => {
          if (forgotten) return reconnect(alias, r, since)
          if (reconnecting.get(alias) === r) {
            if (previous !== undefined && !Deferred.isDoneUnsafe(previous.done)) reconnecting.set(alias, previous)
            else reconnecting.delete(alias)
          }
          return Effect.sync(() => void Deferred.doneUnsafe(r.done, Exit.succeed(undefined)))
        })
      })

    /**
     * Start `r`'s background reconnect: attempts until one connects, one fails for good, or
     * reconnect_retries retries have failed; calls wait for it (`awaitReconnect`). Its attempts
     * ask nothing (the hooks of the call that made the lost connection are not its).
     */
    const reconnect = (alias: string, r: Reconnecting, since: Date) =>
      Effect.suspend(() => {
        const schedule = reconnectSchedule(delaySec).pipe(
          Schedule.while(({ attempt, input }: Schedule.InputMetadata<ConnectFailure>) => transient(input) && attempt <= retries),
          // Only once another attempt is decided: callers learn at once that the host is down, and until when.
          Schedule.modifyDelay(({ attempt, duration, input, now }) =>
            Effect.gen(function*() {
              const delay = Math.round(Duration.toMillis(duration))
              const down = { since, attempts: attempt, maxAttempts: retries + 1, nextAttemptAt: new Date(now + delay), lastError: input.message }
              r.down = down
              Deferred.doneUnsafe(r.known, Exit.succeed(down))
              yield* Effect.logWarning(`reconnect to ${alias} failed: ${input.message}; next attempt in ${delay} ms`)
              return delay
            })
          )
        )
        return Effect.logWarning(`connection to ${alias} lost; reconnecting`).pipe(
          Effect.andThen(ScopedCache.get(hosts, alias).pipe(Effect.provideService(ConnectHooks, {}), Effect.retry(schedule))),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (reconnecting.get(alias) === r) reconnecting.delete(alias)
              Deferred.doneUnsafe(r.done, exit)
            })
          ),
          Effect.tap(() => Effect.logInfo(`reconnected ${alias}`)),
          Effect.catch((e) => Effect.logWarning(`gave up reconnecting ${alias}: ${e.message}; the next call will try again`)),
          Effect.forkIn(layerScope),
          Effect.asVoid
        )
      })

    /** The reconnect's connection (undefined: there was none after all), or HOST_DOWN at once once one of its attempts has failed. */
    const awaitReconnect = (alias: string, r: Reconnecting): Effect.Effect<Live | undefined, ConnectFailure> =>
      Effect.suspend(() => {
        const down = (d: HostDown) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(hostDownError(alias, d, now)))
        if (r.down !== undefined) return down(r.down)
        return Effect.raceFirst(Deferred.await(r.done), Effect.flatMap(Deferred.await(r.known), down))
      })

    /**
     * The host's live connection: the current one, the one being made, or a background
     * reconnect's. A call that finds none makes one attempt (with its hooks), without retries:
     * a host that keeps failing is the reconnect's to wait for.
     */
    const acquire = (alias: string, options: ConnectOptions = {}): Effect.Effect<Live, ConnectFailure> =>
      Effect.gen(function*() {
        for (;;) {
          const r = reconnecting.get(alias)
          const live = yield* r !== undefined
            ? awaitReconnect(alias, r)
            : ScopedCache.get(hosts, alias).pipe(Effect.provideService(ConnectHooks, options))
          if (live === undefined) continue
          if (isOpen(live)) return live
          // Dropped, before its watch's turn: the reconnect starts now, and this call waits for
          // it (as one a moment later would) instead of making an attempt of its own.
          yield* dropped(alias, live, new Date(yield* Clock.currentTimeMillis))
        }
      })

    /** A new channel on `alias`; when every connection of its pool is gone, connect again. */
    const channel = <C extends ClosingChannel>(alias: string, open: OpenChannel<C>, close: CloseChannel<C>) =>
      Effect.gen(function*() {
        for (;;) {
          const live = yield* acquire(alias)
          const opened = yield* live.pool.channel(open, close)
          if (Option.isSome(opened)) return opened.value
          yield* forget(alias, live)
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
            yield* forget(alias, live)
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
        // A reconnect under way goes on (its attempts resolve the alias afresh), but calls no longer wait for it.
        reconnecting.delete(alias)
        const live = yield* ScopedCache.getSuccess(hosts, alias)
        if (Option.isNone(live)) return
        yield* forget(alias, live.value)
        yield* Effect.logInfo(`disconnected ${alias}`)
      })

    yield* Effect.addFinalizer(() => Effect.flatMap(ScopedCache.keys(hosts), Effect.forEach(disconnect, { discard: true })))

    const current = (alias: string) =>
      Effect.map(ScopedCache.getSuccess(hosts, alias), (live) => Option.isSome(live) && isOpen(live.value) ? live.value : undefined)

    return Connections.of({
      connect: (alias, options) => Effect.map(acquire(alias, options), (l) => l.info),
      exec: (alias, command, options) =>
        Effect.gen(function*() {
          if (command === LAUNCHER && options?.pty !== true && options?.window === undefined) {
            const spare = yield* takeSpare(yield* acquire(alias))
            if (spare !== undefined) {
              // The caller's now: closed with its scope, as any channel of the pool.
              yield* Effect.addFinalizer(() => Scope.close(spare.scope, Exit.void))
              return spare.channel
            }
          }
          return yield* channel<RemoteChannel & ClosingChannel>(alias, (conn, cb) => conn.exec(command, options ?? {}, cb), (ch) => ch.close())
        }),
      sftp: (alias) => channel<SFTPWrapper>(alias, (conn, cb) => conn.sftp(cb), (sftp) => sftp.end()),
      disconnect,
      info: (alias) => Effect.map(current(alias), (live) => live?.info),
      closed: (alias) => Effect.flatMap(current(alias), (live) => live === undefined ? Effect.void : Deferred.await(live.pool.first.closed)),
      forwardOut,
      forwardIn
    })
  }))

  /** Connections over the live `SshClient`; needs AppConfig, HostRegistry and KnownHosts. */
  static readonly layer = Connections.layerNoDeps.pipe(Layer.provide(SshClient.layer))
}
