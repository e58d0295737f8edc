/**
 * Listing the jobs of an earlier run that a rediscovery finds on a host (persistent and tmux
 * jobs alike). Those found ended are read to their end (their output and exit status) before
 * they are listed, so that none is listed, nor counted under `max_jobs_per_host`, as running
 * while its files are read.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import type { Job } from "./Job.js"

/** How long a host's ended jobs may take to read before they are listed anyway (and read on after). */
export const FOUND_ENDED_READ_WITHIN = "5 seconds"

/** A job made for what a rediscovery found, and whether its process ran when it looked. */
export interface Found {
  readonly job: Job
  readonly running: boolean
}

/**
 * List the jobs found on `alias`: first follow those found ended, a few at a time, for up to
 * `FOUND_ENDED_READ_WITHIN` in all; then add each to the store (a warning when `max_jobs` is
 * reached) and watch those not read to their end (still running as far as their `Job` knows).
 */
export const listFound = <E, R, W>(options: {
  readonly alias: string
  /** What the log calls them: "persistent job", "tmux job". */
  readonly kind: string
  readonly found: ReadonlyArray<Found>
  readonly add: (job: Job) => Effect.Effect<boolean>
  readonly maxJobs: number
  readonly follow: (job: Job) => Effect.Effect<void, E, R>
  readonly watch: (job: Job) => Effect.Effect<W>
}): Effect.Effect<void, never, R> =>
  Effect.gen(function*() {
    const { alias, kind, found } = options
    yield* Effect.forEach(found.filter((f) => !f.running), (f) => Effect.ignore(options.follow(f.job)), { concurrency: 8, discard: true }).pipe(
      Effect.timeoutOption(FOUND_ENDED_READ_WITHIN)
    )
    for (const { job, running } of found) {
      if (!(yield* options.add(job))) {
        yield* Effect.logWarning(`${kind} ${job.id} on ${alias} not listed: max_jobs (${options.maxJobs}) reached`)
        continue
      }
      if (job.running) yield* options.watch(job)
      yield* Effect.logInfo(`found ${kind} ${job.id} on ${alias} (${running ? "running" : "ended"})`)
    }
  })
