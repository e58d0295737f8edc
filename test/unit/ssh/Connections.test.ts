/**
 * Connections on virtual time over a fake `SshClient`: the reconnect schedule (retries,
 * their growing delays, bounded by reconnect_retries), extra connections past MaxSessions
 * closed once idle, and ssh2's channel open failures classified by reason code.
 */
import { EventEmitter } from "node:events"
import { PassThrough } from "node:stream"
import { createRequire } from "node:module"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AppConfig } from "../../../src/domain/AppConfig.js"
import { ConnectError } from "../../../src/domain/errors.js"
import type { Limits } from "../../../src/domain/limits.js"
import { Connections } from "../../../src/services/Connections.js"
import { HostRegistry } from "../../../src/services/HostRegistry.js"
import { SshClient, type SshConnection } from "../../../src/ssh/SshClient.js"
import { ChannelOpenReason, classifyChannelError, isChannelLimit } from "../../../src/ssh/sshErrors.js"

class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter()
  closed = false
  write() {
    return true
  }
  end() {}
  signal() {}
  close() {
    if (this.closed) return
    this.closed = true
    this.emit("close")
  }
}

/** A channel refusal as ssh2 builds it (lib/utils.js onChannelOpenFailure). */
const refusal = (reason: number, description: string): Error => {
  const { onChannelOpenFailure } = createRequire(import.meta.url)("ssh2/lib/utils.js") as {
    onChannelOpenFailure: (self: unknown, recipient: number, info: unknown, cb: (err: Error) => void) => void
  }
  let error: Error | undefined
  onChannelOpenFailure({ _chanMgr: { remove: () => {} } }, 0, { reason, description }, (e) => {
    error = e
  })
  return error!
}

interface FakeServer {
  /** Attempts to open a connection, at these virtual times (ms). */
  readonly attempts: Array<number>
  /** Per attempt: the one-time-code prompt it could ask, if any. */
  readonly asked: Array<string | undefined>
  /** Connections opened, in order; `ended` once their scope closed. */
  readonly connections: Array<{ readonly closed: Deferred.Deferred<void>; readonly channels: Array<FakeChannel>; ended: boolean }>
  /** How many of the next opens fail (transiently). */
  failNext: number
  /** While set, sshd does not answer channel opens: each waits here until the test calls it. */
  hold: boolean
  readonly held: Array<() => void>
  /** Forwarded streams opened (`ssh -L`), and ports sshd listens on for us (`ssh -R`). */
  readonly streams: Array<PassThrough>
  readonly listening: Array<number>
}

/** An `SshClient` whose connections allow `maxSessions` channels each, like sshd. */
const fakeSshClient = (server: FakeServer, maxSessions: number) =>
  Layer.succeed(SshClient, SshClient.of({
    open: (_entry, options) =>
      Effect.gen(function*() {
        server.attempts.push(yield* Clock.currentTimeMillis)
        const answer = options?.onAuthPrompt === undefined
          ? undefined
          : yield* options.onAuthPrompt({ name: "", instructions: "", prompts: [{ prompt: "Code: ", echo: false }] })
        server.asked.push(answer?.[0])
        if (server.failNext > 0) {
          server.failNext--
          return yield* new ConnectError({ message: "connect ECONNREFUSED" })
        }
        const closed = Deferred.makeUnsafe<void>()
        const record = { closed, channels: [] as Array<FakeChannel>, ended: false }
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            record.ended = true
            Deferred.doneUnsafe(closed, Exit.void)
          })
        )
        server.connections.push(record)
        let live = 0
        const conn: SshConnection = {
          authMethod: "publickey",
          hostKeyFingerprint: "SHA256:fake",
          serverBanner: "OpenSSH_fake",
          closed,
          exec: (_command, _pty, cb) => {
            if (Deferred.isDoneUnsafe(closed)) throw new Error("Not connected")
            const answer = () => {
              if (live >= maxSessions) return cb(refusal(ChannelOpenReason.CONNECT_FAILED, "open failed"), new FakeChannel())
              live++
              const ch = new FakeChannel()
              ch.once("close", () => live--)
              record.channels.push(ch)
              cb(undefined, ch)
            }
            if (server.hold) server.held.push(answer)
            else answer()
          },
          sftp: () => {
            throw new Error("no sftp in the fake")
          },
          forwardOut: (_host, _port, _origin, cb) => {
            const answer = () => {
              const stream = new PassThrough()
              server.streams.push(stream)
              cb(undefined, stream)
            }
            if (server.hold) server.held.push(answer)
            else answer()
          },
          forwardIn: (_address, port, _onConnection, cb) => {
            const answer = () => {
              server.listening.push(port)
              cb(undefined, port)
            }
            if (server.hold) server.held.push(answer)
            else answer()
          },
          unforwardIn: (_address, port) => {
            server.listening.splice(server.listening.indexOf(port), 1)
          }
        }
        return conn
      })
  }))

const layerWith = (server: FakeServer, maxSessions: number, limits: Partial<Limits>) =>
  Connections.layerNoDeps.pipe(
    Layer.provideMerge(Layer.mergeAll(fakeSshClient(server, maxSessions), HostRegistry.layer)),
    Layer.provideMerge(AppConfig.layer({ hosts: [{ alias: "h", host: "127.0.0.1", port: 22, source: "cli" }], limits }))
  )

const newServer = (): FakeServer => ({ attempts: [], asked: [], connections: [], failNext: 0, hold: false, held: [], streams: [], listening: [] })

/** Let fibers woken by callbacks run. */
const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 20 }))

/** Most tests here: a reconnect 1 s after a drop, then growing delays, 3 retries; 10 sessions a connection. */
const reconnecting = (server: FakeServer) => layerWith(server, 10, { reconnectRetries: 3, reconnectDelaySec: 1 })

/** The server drops the host's first connection, and fails the next `failures` connects. */
const dropFirst = (server: FakeServer, failures: number) =>
  Effect.gen(function*() {
    server.failNext = failures
    Deferred.doneUnsafe(server.connections[0]!.closed, Exit.void)
    yield* settle
  })

/** Move the virtual clock in 100 ms steps, so each sleep ends at (about) its own time. */
const advance = (ms: number) => Effect.gen(function*() {
  for (let t = 0; t < ms; t += 100) {
    yield* TestClock.adjust(100)
    yield* settle
  }
})

const delays = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

describe("Connections: reconnect schedule", () => {
  it.effect("a dropped connection is retried after growing, jittered delays until it connects", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      assert.strictEqual(server.attempts.length, 1)
      yield* dropFirst(server, 2)
      yield* advance(10_000)
      const reconnects = server.attempts.slice(1)
      assert.strictEqual(reconnects.length, 3, "two failures, then success")
      const [d1, d2] = delays(reconnects)
      // Exponential from reconnect_delay_sec (1 s), each delay scaled by 0.8-1.2.
      assert.isTrue(d1! >= 800 && d1! <= 1300, `first delay ${d1}`)
      assert.isTrue(d2! >= 1600 && d2! <= 2500, `second delay ${d2}`)
      assert.isDefined(yield* connections.info("h"))
    }).pipe(Effect.provide(reconnecting(server)))
  })

  it.effect("gives up after reconnect_retries retries", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      yield* dropFirst(server, 100)
      yield* advance(60_000)
      const reconnects = server.attempts.slice(1)
      assert.strictEqual(reconnects.length, 1 + 3, "one attempt and reconnect_retries (3) retries")
      const ds = delays(reconnects)
      assert.isTrue(ds[0]! >= 800 && ds[0]! <= 1300, `delays ${ds}`)
      assert.isTrue(ds[1]! > ds[0]! && ds[2]! > ds[1]!, `delays grow: ${ds}`)
      assert.isTrue(ds[2]! >= 3200 && ds[2]! <= 4900, `delays ${ds}`)
      assert.isUndefined(yield* connections.info("h"))
      // The next call tries again (one attempt of its own).
      server.failNext = 0
      yield* connections.connect("h")
      assert.isDefined(yield* connections.info("h"))
    }).pipe(Effect.provide(reconnecting(server)))
  })
})

describe("Connections: a call's interactive hooks", () => {
  it.effect("reach the connect the call starts, not a concurrent call's nor a background reconnect's", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      // The person takes a while to answer: a second call comes meanwhile.
      const answered = Deferred.makeUnsafe<void>()
      const onAuthPrompt = () => Effect.as(Deferred.await(answered), ["123456"])
      const first = yield* Effect.forkChild(connections.connect("h", { onAuthPrompt }))
      yield* settle
      const second = yield* Effect.forkChild(connections.connect("h"))
      yield* settle
      Deferred.doneUnsafe(answered, Exit.void)
      const [a, b] = [yield* Fiber.join(first), yield* Fiber.join(second)]
      // One attempt, shared, made with the first call's hooks.
      assert.deepStrictEqual(server.asked, ["123456"])
      assert.strictEqual(a.connectedAt, b.connectedAt)
      Deferred.doneUnsafe(server.connections[0]!.closed, Exit.void)
      yield* settle
      assert.deepStrictEqual(server.asked, ["123456", undefined], "the reconnect asks nothing")
      assert.isDefined(yield* connections.info("h"))
    }).pipe(Effect.provide(reconnecting(server)))
  })
  it.effect("a connect shared by two calls goes on when the call that started it is interrupted, and stops when both are", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      const answered = Deferred.makeUnsafe<void>()
      const onAuthPrompt = () => Effect.as(Deferred.await(answered), ["123456"])
      const first = yield* Effect.forkChild(connections.connect("h", { onAuthPrompt }))
      yield* settle
      const second = yield* Effect.forkChild(connections.connect("h"))
      yield* settle
      yield* Fiber.interrupt(first)
      Deferred.doneUnsafe(answered, Exit.void)
      const info = yield* Fiber.join(second)
      assert.strictEqual(info.alias, "h")
      assert.strictEqual(server.attempts.length, 1)
      // Once every caller has gone, the attempt is abandoned and the next call makes its own.
      yield* connections.disconnect("h")
      const never = Deferred.makeUnsafe<void>()
      const waiting = () => Effect.as(Deferred.await(never), ["123456"])
      const a = yield* Effect.forkChild(connections.connect("h", { onAuthPrompt: waiting }))
      const b = yield* Effect.forkChild(connections.connect("h"))
      yield* settle
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      yield* settle
      assert.isUndefined(yield* connections.info("h"))
      yield* connections.connect("h")
      assert.strictEqual(server.attempts.length, 3)
      assert.isDefined(yield* connections.info("h"))
    }).pipe(Effect.provide(reconnecting(server)))
  })
})

describe("Connections: a host known to be down", () => {
  it.effect("fails calls at once with HOST_DOWN and the reconnect's state while it waits, and works again once it connects", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      yield* dropFirst(server, 2)
      // The first reconnect attempt failed; the next is about 1 s away.
      assert.strictEqual(server.attempts.length, 2)
      const down = yield* Effect.flip(connections.exec("h", "true"))
      assert.strictEqual(down._tag, "HostDownError")
      assert.strictEqual(down.code, "HOST_DOWN")
      assert.match(down.message, /^h is down since .*: reconnect attempt 1 of 4 failed \(connect ECONNREFUSED\); the next is at .* \(in [12] s\)$/)
      // The call waited for nothing and tried nothing itself.
      assert.strictEqual(server.attempts.length, 2)
      yield* advance(1_500)
      assert.match((yield* Effect.flip(connections.exec("h", "true"))).message, /attempt 2 of 4/)
      yield* advance(3_000)
      assert.strictEqual(server.attempts.length, 4)
      yield* connections.exec("h", "true")
    }).pipe(Effect.provide(reconnecting(server)))
  })

  it.effect("a call that finds the connection dropped before the drop's watch has run waits for the reconnect it starts, and tries nothing itself", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      server.failNext = 2
      // Dropped, and the call comes before the watch's fiber has had its turn.
      Deferred.doneUnsafe(server.connections[0]!.closed, Exit.void)
      const down = yield* Effect.flip(connections.exec("h", "true"))
      assert.strictEqual(down._tag, "HostDownError")
      assert.match(down.message, /reconnect attempt 1 of 4 failed/)
      assert.strictEqual(server.attempts.length, 2)
      yield* settle
      // One reconnect, started by the call: the watch found the connection forgotten already.
      yield* advance(1_500)
      assert.strictEqual(server.attempts.length, 3)
      yield* advance(3_000)
      yield* connections.exec("h", "true")
    }).pipe(Effect.provide(reconnecting(server)))
  })

  it.effect("once the reconnect gave up, a call makes one attempt, without retries", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      yield* dropFirst(server, 100)
      yield* advance(60_000)
      assert.strictEqual(server.attempts.length, 1 + 4)
      const failed = yield* Effect.flip(connections.exec("h", "true"))
      assert.strictEqual(failed._tag, "ConnectError")
      assert.strictEqual(server.attempts.length, 1 + 4 + 1)
    }).pipe(Effect.provide(reconnecting(server)))
  })
  it.effect("a host being reconnected that is disconnected is tried at once by the next call", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      yield* dropFirst(server, 100)
      assert.strictEqual((yield* Effect.flip(connections.connect("h")))._tag, "HostDownError")
      // E.g. ssh_connect with replace: true and the host's new address.
      yield* connections.disconnect("h")
      server.failNext = 0
      yield* connections.connect("h")
      assert.strictEqual(server.attempts.length, 3)
      assert.isDefined(yield* connections.info("h"))
    }).pipe(Effect.provide(reconnecting(server)))
  })
})

describe("Connections: channels past MaxSessions", () => {
  it.effect("opens one more connection when channels run out, and closes it after extra_connection_idle_sec idle", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      const channels = []
      for (let i = 0; i < 3; i++) channels.push(yield* connections.exec("h", "sleep 1"))
      assert.strictEqual(server.connections.length, 2, "the third channel needed a second connection")
      assert.strictEqual(server.connections[1]!.channels.length, 1)
      // The extra connection's only channel ends: it is idle from now.
      channels[2]!.close()
      yield* settle
      yield* advance(59_000)
      assert.isFalse(server.connections[1]!.ended, "still open before 60 s")
      yield* advance(2_000)
      assert.isTrue(server.connections[1]!.ended, "closed after 60 s idle")
      assert.isFalse(server.connections[0]!.ended, "the first connection stays")
      // The limit was learned: a third channel again opens one more connection, without a failure.
      yield* connections.exec("h", "sleep 1")
      assert.strictEqual(server.connections.length, 3)
    }).pipe(Effect.provide(layerWith(server, 2, { extraConnectionIdleSec: 60 })))
  })

  it.effect("an extra connection with a channel stays open", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      for (let i = 0; i < 3; i++) yield* connections.exec("h", "sleep 1")
      yield* advance(120_000)
      assert.isFalse(server.connections[1]!.ended)
    }).pipe(Effect.provide(layerWith(server, 2, { extraConnectionIdleSec: 60 })))
  })
})

describe("Connections: channels are scoped", () => {
  it.effect("a channel confirmed after its caller was interrupted is closed at once, and its place is free again", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      server.hold = true
      const caller = yield* Effect.forkChild(Effect.scoped(connections.exec("h", "sleep 1")))
      yield* settle
      assert.strictEqual(server.held.length, 1, "the open request is out")
      // A timeout, a cancelled call: the caller goes while sshd has not answered yet.
      yield* Fiber.interrupt(caller)
      server.hold = false
      server.held.shift()!()
      yield* settle
      const late = server.connections[0]!.channels[0]!
      assert.isTrue(late.closed, "the channel that came late is closed")
      // One session per connection: had the late channel kept its place, this would need a second connection.
      yield* Effect.scoped(connections.exec("h", "sleep 1"))
      assert.strictEqual(server.connections.length, 1)
      assert.strictEqual(server.connections[0]!.channels.length, 2)
    }).pipe(Effect.provide(layerWith(server, 1, {})))
  })

  it.effect("a forwarded stream or a remote listener that comes after its caller was interrupted is closed at once", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* connections.connect("h")
      server.hold = true
      const out = yield* Effect.forkChild(Effect.scoped(connections.forwardOut("h", "127.0.0.1", 80, { address: "127.0.0.1", port: 5000 })))
      const listen = yield* Effect.forkChild(Effect.scoped(connections.forwardIn("h", "127.0.0.1", 8080, () => {})))
      yield* settle
      assert.strictEqual(server.held.length, 2, "both requests are out")
      yield* Fiber.interrupt(out)
      yield* Fiber.interrupt(listen)
      for (const answer of server.held.splice(0)) answer()
      yield* settle
      assert.isTrue(server.streams[0]!.destroyed, "the late stream is destroyed")
      assert.deepStrictEqual(server.listening, [], "the late listener is cancelled")
      server.hold = false
      // In use, they last as long as the scope.
      yield* Effect.scoped(Effect.gen(function*() {
        const stream = yield* connections.forwardOut("h", "127.0.0.1", 80, { address: "127.0.0.1", port: 5001 })
        yield* connections.forwardIn("h", "127.0.0.1", 8081, () => {})
        assert.isFalse(stream.destroyed)
        assert.deepStrictEqual(server.listening, [8081])
      }))
      assert.isTrue(server.streams[1]!.destroyed)
      assert.deepStrictEqual(server.listening, [])
    }).pipe(Effect.provide(layerWith(server, 1, {})))
  })

  it.effect("a channel closes with its scope", () => {
    const server = newServer()
    return Effect.gen(function*() {
      const connections = yield* Connections
      yield* Effect.scoped(connections.exec("h", "sleep 1"))
      assert.isTrue(server.connections[0]!.channels[0]!.closed)
    }).pipe(Effect.provide(layerWith(server, 1, {})))
  })
})

describe("ssh2 channel open failures", () => {
  it("are classified by their reason code, not their text", () => {
    const prohibited = classifyChannelError(refusal(ChannelOpenReason.ADMINISTRATIVELY_PROHIBITED, "whatever"), false, false)
    assert.deepStrictEqual(prohibited, { _tag: "Refused", reason: 1, message: "(SSH) Channel open failure: whatever" })
    assert.isTrue(isChannelLimit(prohibited))
    // OpenSSH past MaxSessions: its default reason.
    assert.isTrue(isChannelLimit(classifyChannelError(refusal(ChannelOpenReason.CONNECT_FAILED, "open failed"), false, false)))
    assert.isTrue(isChannelLimit(classifyChannelError(refusal(ChannelOpenReason.RESOURCE_SHORTAGE, ""), false, false)))
    // The text does not matter: an unknown channel type is never a limit, whatever it says.
    const unknownType = classifyChannelError(refusal(ChannelOpenReason.UNKNOWN_CHANNEL_TYPE, "open failed: resource shortage"), false, false)
    assert.strictEqual(unknownType._tag, "Refused")
    assert.isFalse(isChannelLimit(unknownType))
  })

  it("a throw at the call, or a failure after the close event, means the connection is gone", () => {
    assert.deepStrictEqual(classifyChannelError(new Error("Not connected"), true, false), { _tag: "ConnectionGone" })
    assert.deepStrictEqual(classifyChannelError(new Error("No response from server"), false, true), { _tag: "ConnectionGone" })
    const other = classifyChannelError(new Error("Unable to exec"), false, false)
    assert.deepStrictEqual(other, { _tag: "Failed", message: "Unable to exec" })
    assert.isFalse(isChannelLimit(other))
  })
})
