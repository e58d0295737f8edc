/**
 * Progress of a transfer: the copy counts bytes from its callbacks, and a fiber in the
 * transfer's scope reports them through `onProgress` at most every 250 ms (the first soon
 * after the first bytes); `flush` reports what is left from the caller's own fiber.
 *
 * @since 0.2.0
 */
import { Clock, Effect, type Scope } from "effect"

export interface Progress {
  /** Count `n` more bytes (called from copy callbacks). */
  readonly add: (n: number) => void
  /** Report now if anything was counted since the last report. */
  readonly flush: Effect.Effect<void>
}

const EVERY_MS = 250
const POLL = "50 millis"

export const progress = (
  onProgress: ((done: number, total: number) => Effect.Effect<void>) | undefined,
  total: number
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    let done = 0
    let reported = 0
    let last = Number.NEGATIVE_INFINITY
    const report = Effect.suspend(() => {
      if (onProgress === undefined || done === reported) return Effect.void
      reported = done
      return Effect.andThen(Clock.currentTimeMillis, (now) => {
        last = now
        return onProgress(done, total)
      })
    })
    if (onProgress !== undefined) {
      const tick = Effect.andThen(Clock.currentTimeMillis, (now) => now - last >= EVERY_MS ? report : Effect.void)
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(tick, Effect.sleep(POLL))))
    }
    return { add: (n: number) => void (done += n), flush: report }
  })
