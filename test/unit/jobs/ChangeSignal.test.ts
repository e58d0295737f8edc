import { Effect, Fiber, Option } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { ChangeSignal } from "../../../src/jobs/ChangeSignal.js"

describe("ChangeSignal", () => {
  it.effect("returns at once when the version is already newer", () =>
    Effect.gen(function*() {
      const s = new ChangeSignal()
      s.notify()
      expect(yield* s.changedSince(0)).toBe(1)
    }))

  it.effect("wakes every waiter on notify", () =>
    Effect.gen(function*() {
      const s = new ChangeSignal()
      const a = yield* Effect.forkChild(s.changedSince(0))
      const b = yield* Effect.forkChild(s.changedSince(0))
      yield* Effect.yieldNow
      s.notify()
      expect(yield* Fiber.join(a)).toBe(1)
      expect(yield* Fiber.join(b)).toBe(1)
    }))

  it.live("drops an interrupted waiter", () =>
    Effect.gen(function*() {
      const s = new ChangeSignal()
      const r = yield* s.changedSince(0).pipe(Effect.timeoutOption("10 millis"))
      expect(Option.isNone(r)).toBe(true)
      expect((s as unknown as { waiters: Array<unknown> }).waiters.length).toBe(0)
    }))
})
