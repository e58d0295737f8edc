/**
 * The connections to one host and the channels on them, past sshd's MaxSessions: a
 * channel goes to the connection with the fewest; a refusal (reason code) teaches the
 * limit, and when every connection is at it one more is opened, one at a time. An extra
 * connection with no channel for `idleMs` is closed (on the Effect clock); the first one
 * stays for the pool's life. Each extra lives in a scope of its own, within the pool's.
 *
 * A channel is a scoped resource (`scopedCallback`): the finalizer that closes it is in the
 * caller's scope before the open request goes out, so a channel that arrives after the
 * caller was interrupted (a timeout, a cancelled call) is closed at once, and its place on
 * the connection is given back when it closes.
 *
 * @since 0.1.0
 */
import { Data, Deferred, Effect, Exit, FiberSet, Option, Scope, Semaphore } from "effect"
import { ChannelError, type ConnectFailure } from "../domain/errors.js"
import { guarded } from "./listeners.js"
import { scopedCallback } from "./scopedCallback.js"
import { type ChannelOpenFailure, classifyChannelError, isChannelLimit } from "./sshErrors.js"
import type { ClosingChannel, SshConnection } from "./SshClient.js"

interface Member {
  readonly conn: SshConnection
  /** Closing it ends the connection (and its jump hosts). */
  readonly scope: Scope.Closeable
  /** The first connection stays when idle. */
  readonly extra: boolean
  /** Channels open or being opened. */
  channels: number
  /** ssh2 said it is not connected (its close event may still be on the way). */
  gone: boolean
  /** Bumped whenever the member gets busy or idle: an idle timer of an older generation does nothing. */
  generation: number
}

const isClosed = (m: Member) => m.gone || Deferred.isDoneUnsafe(m.conn.closed)

/** How to open one kind of channel on a connection (ssh2's callback style). */
export type OpenChannel<C> = (conn: SshConnection, cb: (err: Error | undefined, channel: C) => void) => void

/** How to close one kind of channel (idempotent: it may already be closed). */
export type CloseChannel<C> = (channel: C) => void

/**
 * A channel did not open on one connection: why, and how many channels that connection had
 * open or pending before the request (a refusal's `position` is the server's limit).
 */
export class ChannelOpenFailed extends Data.TaggedError("ChannelOpenFailed")<{
  readonly failure: ChannelOpenFailure
  readonly position: number
}> {}

export interface ChannelPool {
  /** The first connection (never closed for being idle). */
  readonly first: SshConnection
  /** Done once every connection of the pool has closed. */
  readonly emptied: Deferred.Deferred<void>
  /** How many connections are open now. */
  readonly size: () => number
  /**
   * A new channel on whichever connection has room (one more connection if none has), closed
   * with the scope (`close`), even when it arrives after an interruption; None when every
   * connection of the pool has closed (the caller reconnects).
   */
  channel<C extends ClosingChannel>(open: OpenChannel<C>, close: CloseChannel<C>): Effect.Effect<Option.Option<C>, ConnectFailure | ChannelError, Scope.Scope>
  /**
   * A channel on the first connection only, never opening another one, closed with the scope:
   * None when it has no room (a refusal teaches the limit, as above) or is gone. For channels
   * started ahead of need, which must not cost a connection or keep an extra one from closing
   * when idle.
   */
  onFirst<C extends ClosingChannel>(open: OpenChannel<C>, close: CloseChannel<C>): Effect.Effect<Option.Option<C>, never, Scope.Scope>
}

export interface ChannelPoolOptions {
  readonly alias: string
  /** The first connection to the host; ends with the scope it is given. */
  readonly first: Effect.Effect<SshConnection, ConnectFailure, Scope.Scope>
  /** One more connection to the host; ends with the scope it is given. */
  readonly more: Effect.Effect<SshConnection, ConnectFailure, Scope.Scope>
  /** How long an extra connection may stay without a channel. */
  readonly idleMs: number
}

/** A pool living in the current scope, its first connection open. */
export const makeChannelPool = (options: ChannelPoolOptions): Effect.Effect<ChannelPool, ConnectFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // Channels end in ssh2 callbacks: an extra's idle timer is a fiber of the pool's scope.
    const runInPool = yield* FiberSet.makeRuntime()
    const emptied = Deferred.makeUnsafe<void>()
    yield* Effect.addFinalizer(() => Deferred.done(emptied, Exit.void))
    const members: Array<Member> = []
    /** Channels per connection the server allows, once learned from a refusal. */
    let maxChannels: number | undefined
    /** One new connection at a time: a burst of refused channels must not open one each. */
    const growing = yield* Semaphore.make(1)

    /** Forget `m` (an extra leaves the list) and end it; the pool is empty once all are closed. */
    const drop = (m: Member) =>
      Effect.suspend(() => {
        m.gone = true
        const i = members.indexOf(m)
        if (i > 0) members.splice(i, 1)
        if (members.every(isClosed)) Deferred.doneUnsafe(emptied, Exit.void)
        return Scope.close(m.scope, Exit.void)
      })

    const closeIfIdle = (m: Member, generation: number) =>
      Effect.gen(function*() {
        yield* Effect.sleep(options.idleMs)
        if (m.generation !== generation || m.channels > 0 || isClosed(m)) return
        yield* drop(m)
        yield* Effect.logInfo(`${options.alias}: closed an extra connection idle for ${options.idleMs / 1000} s (${members.length} left)`)
      })

    const take = (m: Member) => {
      m.channels++
      m.generation++
    }

    /** A channel of `m` is gone: an extra connection left with none starts its idle countdown. */
    const release = (m: Member) => {
      m.channels--
      if (m.channels === 0 && m.extra && !isClosed(m)) {
        m.generation++
        runInPool(closeIfIdle(m, m.generation))
      }
    }

    /** The open connection with the fewest channels, if one is under the learned limit. */
    const pick = (): Member | undefined => {
      let best: Member | undefined
      for (const m of members) {
        if (isClosed(m) || (maxChannels !== undefined && m.channels >= maxChannels)) continue
        if (best === undefined || m.channels < best.channels) best = m
      }
      return best
    }

    /** Open a connection in a scope of its own; when it drops, end what is left of it (its jump hosts). */
    const join = (connect: ChannelPoolOptions["more"], extra: boolean) =>
      Effect.gen(function*() {
        const own = yield* Scope.fork(scope)
        const conn = yield* connect.pipe(
          Scope.provide(own),
          Effect.onError((cause) => Scope.close(own, Exit.failCause(cause)))
        )
        const m: Member = { conn, scope: own, extra, channels: 0, gone: false, generation: 0 }
        members.push(m)
        runInPool(Effect.andThen(Deferred.await(conn.closed), drop(m)))
        return m
      })

    const first = (yield* join(options.first, false)).conn

    /** One more connection, for channels the others cannot take; closed again once idle. */
    const grow = Effect.gen(function*() {
      const m = yield* join(options.more, true)
      // Idle until the caller's channel opens on it.
      take(m)
      release(m)
      yield* Effect.logInfo(`${options.alias}: channel limit reached (${maxChannels ?? "?"} per connection); opened connection #${members.length}`)
      return m
    })

    /**
     * Open a channel on `m`, closed with the current scope. Counted from the request on (sshd
     * refuses a channel at once but confirms one only after its exec request), so a refusal
     * tells how many channels the connection already had: the server's limit. The finalizer is
     * in the scope before the request is sent: a channel confirmed after the caller was
     * interrupted is closed as it arrives.
     */
    const openOn = <C extends ClosingChannel>(m: Member, open: OpenChannel<C>, close: CloseChannel<C>) =>
      scopedCallback<C, ChannelOpenFailed>(close, (done) => {
        const position = m.channels
        const failed = (e: unknown, thrown: boolean) =>
          done(Exit.fail(new ChannelOpenFailed({ failure: classifyChannelError(e, thrown, isClosed(m)), position })))
        take(m)
        try {
          // ssh2 calls back from its parser: a throw here fails this open, never the process.
          open(m.conn, guarded((e) => failed(e, false))((err, channel) => {
            if (err !== undefined && err !== null) {
              release(m)
              return failed(err, false)
            }
            channel.on("close", () => release(m))
            done(Exit.succeed(channel))
          }))
        } catch (e) {
          release(m)
          failed(e, true)
        }
      })

    const channel = <C extends ClosingChannel>(open: OpenChannel<C>, close: CloseChannel<C>) =>
      Effect.gen(function*() {
        for (;;) {
          if (members.every(isClosed)) return Option.none<C>()
          const target = pick() ?? (yield* growing.withPermit(Effect.suspend(() => {
            // Another fiber may have opened a connection while this one waited.
            const now = pick()
            return now !== undefined ? Effect.succeed(now) : grow
          })))
          const opened = yield* Effect.result(openOn(target, open, close))
          if (opened._tag === "Success") return Option.some(opened.success)
          const { failure, position } = opened.failure
          // Nothing ran on a connection that is gone: use another, or let the caller reconnect.
          if (failure._tag === "ConnectionGone") {
            target.gone = true
            continue
          }
          if (!isChannelLimit(failure) || position === 0) {
            return yield* new ChannelError({ message: `cannot open a channel on ${options.alias}: ${failure.message}` })
          }
          // The server allows no more channels on this connection: remember the limit, use another.
          maxChannels = Math.min(maxChannels ?? Infinity, position)
        }
      })

    const onFirst = <C extends ClosingChannel>(open: OpenChannel<C>, close: CloseChannel<C>) =>
      Effect.suspend(() => {
        const m = members[0]
        if (m === undefined || m.extra || isClosed(m) || (maxChannels !== undefined && m.channels >= maxChannels)) return Effect.succeed(Option.none<C>())
        return openOn(m, open, close).pipe(
          Effect.map(Option.some),
          Effect.catch(({ failure, position }) =>
            Effect.sync(() => {
              if (failure._tag === "ConnectionGone") m.gone = true
              else if (isChannelLimit(failure) && position > 0) maxChannels = Math.min(maxChannels ?? Infinity, position)
              return Option.none<C>()
            })
          )
        )
      })

    return { first, emptied, size: () => members.filter((m) => !isClosed(m)).length, channel, onFirst }
  })
