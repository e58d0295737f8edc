/** Transfer progress on virtual time: soon after the first bytes, then at most every 250 ms, and the rest on flush. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { progress } from "../../../src/transfers/progress.js"

describe("transfer progress", () => {
  it.effect("reports the first bytes soon, then at most every 250 ms, and what is left on flush", () =>
    Effect.scoped(Effect.gen(function*() {
      const seen: Array<[number, number]> = []
      const p = yield* progress((done, total) => Effect.sync(() => void seen.push([done, total])), 100)
      yield* TestClock.adjust(200)
      assert.deepStrictEqual(seen, [])
      p.add(10)
      yield* TestClock.adjust(50)
      assert.deepStrictEqual(seen, [[10, 100]])
      p.add(10)
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(seen, [[10, 100]])
      yield* TestClock.adjust(200)
      assert.deepStrictEqual(seen, [[10, 100], [20, 100]])
      p.add(80)
      yield* p.flush
      yield* p.flush
      assert.deepStrictEqual(seen, [[10, 100], [20, 100], [100, 100]])
    })))

  it.effect("without a callback counts and reports nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const p = yield* progress(undefined, 5)
      p.add(5)
      yield* p.flush
      yield* TestClock.adjust(1000)
    })))
})
