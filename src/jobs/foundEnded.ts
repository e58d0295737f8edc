/**
 * Jobs of an earlier run that a rediscovery finds ended on their host. Each is read to its
 * end (its output and exit status) before it is listed, so that it is never listed, nor
 * counted under `max_jobs_per_host`, as running while its files are read.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import type { Job } from "./Job.js"

/** How long a host's ended jobs may take to read before they are listed anyway (and read on after). */
export const FOUND_ENDED_READ_WITHIN = "5 seconds"

/**
 * Follow the jobs found ended, a few at a time, for up to `FOUND_ENDED_READ_WITHIN` in all.
 * Those not read to their end by then are still running as far as their `Job` knows: watch
 * them once listed, as the running ones.
 */
export const readFoundEnded = <E, R>(
  found: ReadonlyArray<{ readonly job: Job; readonly running: boolean }>,
  follow: (job: Job) => Effect.Effect<void, E, R>
): Effect.Effect<void, never, R> =>
  Effect.forEach(found.filter((f) => !f.running), (f) => Effect.ignore(follow(f.job)), { concurrency: 8, discard: true }).pipe(
    Effect.timeoutOption(FOUND_ENDED_READ_WITHIN),
    Effect.asVoid
  )
