/**
 * Waiting for a host that is down, for a job's follower: the job goes on over there and its
 * output waits in its files, so the follower waits too, trying itself now and then.
 *
 * @since 0.4.0
 */
import { type Context, Effect, Option, Schedule } from "effect"
import type { ChannelError, ConnectFailure } from "../domain/errors.js"
import type { RemoteHosts } from "../ssh/RemoteHosts.js"

/** Completes once `alias` is connected again, or after `ms` (then the caller tries itself, which connects). */
export const connectedWithin = (hosts: Context.Service.Shape<typeof RemoteHosts>, alias: string, ms: number): Effect.Effect<void> =>
  Effect.repeat(hosts.isConnected(alias), {
    schedule: Schedule.spaced("500 millis"),
    until: (up) => up
  }).pipe(Effect.timeoutOption(ms), Effect.asVoid)

/**
 * `attempt` until it succeeds, waiting for the host between tries (1, 2, 4 … 30 s at most),
 * for as long as the host is registered: none once it is not. `onFirstFailure` is told once.
 */
export const untilHostAnswers = <A, E extends ConnectFailure | ChannelError, R>(
  hosts: Context.Service.Shape<typeof RemoteHosts>,
  alias: string,
  attempt: Effect.Effect<A, E, R>,
  onFirstFailure: (e: E) => Effect.Effect<void>
): Effect.Effect<Option.Option<A>, never, R> =>
  Effect.gen(function*() {
    for (let n = 0; ; n++) {
      const tried = yield* Effect.result(attempt)
      if (tried._tag === "Success") return Option.some(tried.success)
      if (tried.failure._tag === "HostNotFoundError") return Option.none()
      if (n === 0) yield* onFirstFailure(tried.failure)
      yield* connectedWithin(hosts, alias, Math.min(30_000, 1000 * 2 ** Math.min(n, 5)))
    }
  })
