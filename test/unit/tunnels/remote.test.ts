/**
 * A remote tunnel brought back after its connection dropped, on virtual time: sshd is asked
 * again on the tunnel's port after growing delays (exponential from reconnect_delay_sec,
 * never under 250 ms nor over 30 s) until it listens.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import { ForwardRefusedError } from "../../../src/domain/errors.js"
import { keepRemote } from "../../../src/tunnels/remote.js"
import { newTraffic } from "../../../src/tunnels/traffic.js"

/** Drop the first listener, let sshd refuse `refusals` times, run `ms` of virtual time; the attempts' times. */
const relisten = (reconnectDelaySec: number, refusals: number, ms: number) =>
  Effect.gen(function*() {
    const tunnel = yield* Scope.make()
    const traffic = newTraffic()
    const attempts: Array<number> = []
    const ports: Array<number> = []
    let left = refusals
    const request = (port: number) =>
      Effect.gen(function*() {
        attempts.push(yield* Clock.currentTimeMillis)
        ports.push(port)
        if (left-- > 0) return yield* new ForwardRefusedError({ message: "refused" })
        return { closed: Effect.never }
      })
    const dropped = Deferred.makeUnsafe<void>()
    const first = { closed: Deferred.await(dropped), scope: yield* Scope.fork(tunnel) }
    yield* Effect.forkIn(keepRemote("h", tunnel, traffic, request, 8080, first, reconnectDelaySec), tunnel)
    Deferred.doneUnsafe(dropped, Exit.void)
    for (let t = 0; t < ms; t += 50) yield* TestClock.adjust(50)
    yield* Scope.close(tunnel, Exit.void)
    const delays = attempts.slice(1).map((at, i) => at - attempts[i]!)
    return { delays, ports, traffic }
  })

describe("remote tunnels: asking sshd to listen again", () => {
  it.effect("waits longer after each refusal, at most 30 s, and stops once sshd listens", () =>
    Effect.gen(function*() {
      const { delays, ports, traffic } = yield* relisten(1, 7, 200_000)
      assert.deepStrictEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000])
      assert.isTrue(ports.every((p) => p === 8080), "on the same port")
      assert.isUndefined(traffic.lastError)
    }))

  it.effect("waits at least 250 ms between attempts (reconnect_delay_sec 0)", () =>
    Effect.gen(function*() {
      const { delays, traffic } = yield* relisten(0, 3, 5_000)
      assert.deepStrictEqual(delays, [250, 250, 250])
      assert.isUndefined(traffic.lastError)
    }))

  it.effect("says why in the tunnel's last error while sshd refuses", () =>
    Effect.gen(function*() {
      const { traffic } = yield* relisten(1, 100, 10_000)
      assert.strictEqual(traffic.lastError, "cannot listen again: refused")
    }))
})
