/**
 * A local tunnel's connection as a fiber: it lasts as long as the relay, its stream is
 * scoped (destroyed when the fiber is interrupted), and a stream sshd already closed does
 * not leave the fiber waiting for a close event that came before it listened.
 */
import * as net from "node:net"
import { PassThrough } from "node:stream"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { type ForwardOut, forwardLocal } from "../../../src/tunnels/forward.js"
import { newTraffic } from "../../../src/tunnels/traffic.js"

/** A ForwardOut handing out `stream`, destroyed with the scope as Connections.forwardOut's is. */
const forwardTo = (stream: PassThrough): ForwardOut => () =>
  Effect.acquireRelease(Effect.succeed(stream), (s) => Effect.sync(() => s.destroy()))

describe("forwardLocal", () => {
  it.effect("ends at once when the stream is already gone, closing the connection", () =>
    Effect.gen(function*() {
      const stream = new PassThrough()
      stream.destroy()
      yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
      const socket = new net.Socket()
      yield* forwardLocal(forwardTo(stream), newTraffic(), socket, "127.0.0.1", 80)
      assert.isTrue(socket.destroyed)
    }))

  it.effect("lasts as long as the relay; interrupted (the tunnel closed), it destroys the stream", () =>
    Effect.gen(function*() {
      const stream = new PassThrough()
      const socket = new net.Socket()
      const fiber = yield* Effect.forkChild(forwardLocal(forwardTo(stream), newTraffic(), socket, "127.0.0.1", 80))
      yield* Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
      assert.isUndefined(fiber.pollUnsafe())
      assert.isFalse(stream.destroyed)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(stream.destroyed)
    }))
})
