/**
 * A version counter that fibers can wait on: `notify` bumps it and wakes every
 * waiter at once. It is what a blocked `ssh_tail` sleeps on — no polling — and it
 * costs nothing on the ingest path when nobody waits.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit } from "effect"

export class ChangeSignal {
  private current = 0
  private waiters: Array<Deferred.Deferred<number>> = []

  get version(): number {
    return this.current
  }

  /** Record a change and wake every waiter. Safe to call from plain callbacks. */
  notify(): void {
    this.current++
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) Deferred.doneUnsafe(w, Exit.succeed(this.current))
  }

  /** Completes with the new version as soon as it is greater than `seen` (at once if it already is). */
  changedSince(seen: number): Effect.Effect<number> {
    return Effect.suspend(() => {
      if (this.current > seen) return Effect.succeed(this.current)
      const d = Deferred.makeUnsafe<number>()
      this.waiters.push(d)
      return Deferred.await(d).pipe(
        Effect.onInterrupt(() => Effect.sync(() => {
          this.waiters = this.waiters.filter((w) => w !== d)
        }))
      )
    })
  }
}
