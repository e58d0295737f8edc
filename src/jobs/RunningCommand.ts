/**
 * A command run in the foreground (`Jobs.run`, what `ssh_exec` uses): wait for its
 * end, watch its progress, write its stdin, and either stop it or hand it over to a
 * listed job. Opaque: the job behind it is not reachable from outside.
 *
 * Its lifetime is the caller's scope: closing it (the call returned, failed or was
 * cancelled) stops the command (TERM, grace, KILL) unless `handOver` gave it to the jobs,
 * whose runner stops it at shutdown like any job. A command `list`ed for an MCP task is
 * still the caller's: cancelling the task stops it.
 *
 * @since 0.1.0
 */
import { type Context, Deferred, Effect, Option, type Scope, Stream } from "effect"
import type { LimitReachedError } from "../domain/errors.js"
import type { EndReason, Termination } from "../domain/jobs.js"
import type { Job } from "./Job.js"
import type { JobRunner, Launched } from "./JobRunner.js"
import type { JobStore, Slot } from "./JobStore.js"
import { type JobInfo, jobInfo } from "./model.js"

export interface Progress {
  /** Lines so far (stdout and stderr). */
  readonly lines: number
  /** The newest line, or the unterminated one. */
  readonly newest: string
}

export interface HandedOver {
  readonly job: JobInfo
  /** Cursor for `tail`: the last line included in what `onOutput` received. */
  readonly nextLineNo: number
}

export interface RunningCommand {
  readonly jobId: string
  readonly host: string
  /** Write to its stdin (respecting backpressure). */
  write(data: string): Effect.Effect<void>
  /** Close its stdin. */
  readonly endInput: Effect.Effect<void>
  /**
   * Wait for the command to end: true when it has. With `timeoutMs`, false after that
   * long; with `orPrompt`, false as soon as it waits at a prompt.
   */
  awaitEnd(options?: { readonly timeoutMs?: number | undefined; readonly orPrompt?: boolean | undefined }): Effect.Effect<boolean>
  /** Emits after output arrives (coalesced while the consumer is busy); never ends by itself. */
  readonly progress: Stream.Stream<Progress>
  /** Its state now. */
  readonly info: Effect.Effect<JobInfo>
  /** With `--log-dir`: the job's log has, or will have once listed, every line since it started. */
  readonly mirroredWhole: Effect.Effect<boolean>
  /**
   * List it as a job from now on, in the place it took under the limits (`mayHandOver`;
   * without it, a place is taken now, or LIMIT_REACHED). `onOutput` receives nothing
   * after this: what it got ends at `nextLineNo`.
   */
  readonly handOver: Effect.Effect<HandedOver, LimitReachedError>
  /**
   * List it as a job from now on, as `handOver` does, but keep passing its output to
   * `onOutput`: the caller still waits for its end (an MCP task, whose job the agent can tail).
   */
  readonly list: Effect.Effect<JobInfo, LimitReachedError>
  /** TERM, grace, KILL on its process group. */
  stop(reason: EndReason): Effect.Effect<Termination>
}

/** Completes when the job has ended or waits at a prompt, whichever comes first; sleeps on its change signal. */
const endedOrPrompt = (job: Job) =>
  Effect.gen(function*() {
    for (;;) {
      const seen = job.changes.version
      if (!job.running || job.awaitingInput) return
      yield* job.changes.changedSince(seen)
    }
  })

/**
 * The handle of a launched command, in the current scope: its finalizer stops the command
 * unless it was handed over. `slot` is the place it took under the limits (`mayHandOver`),
 * which a handover lists it in; without one a place is taken then.
 */
export const runningCommand = (
  launched: Launched,
  runner: Context.Service.Shape<typeof JobRunner>,
  store: Context.Service.Shape<typeof JobStore>,
  slot: Slot | undefined
): Effect.Effect<RunningCommand, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { job, process } = launched
    /** Who ends the command: the caller's scope (listed for a task, or not), or the jobs once handed over. */
    let owner: "caller" | "caller, listed" | "jobs" = "caller"
    yield* Effect.addFinalizer(() =>
      owner === "jobs" ? Effect.void : Effect.asVoid(runner.stop(job, owner === "caller, listed" ? "signal" : "removed"))
    )
    /** List the job in `slot`, or in a place taken now. */
    const listIn = <A>(then: (listed: Slot) => Effect.Effect<A>) =>
      Effect.scoped(Effect.flatMap(slot === undefined ? store.slot(job.host) : Effect.succeed(slot), then))
    const started = Effect.logInfo(`job ${job.id} started on ${job.host}: ${job.command.slice(0, 200)}`)
    return {
      jobId: job.id,
      host: job.host,
      write: (data) => process.write(data),
      endInput: process.endInput(),
      awaitEnd: (options) => {
        const wait = options?.orPrompt === true ? endedOrPrompt(job) : Deferred.await(job.ended)
        const waited = options?.timeoutMs === undefined ? wait : Effect.asVoid(wait.pipe(Effect.timeoutOption(options.timeoutMs)))
        return Effect.map(waited, () => !job.running)
      },
      progress: Stream.paginate(0, (seen: number) =>
        Effect.map(job.changes.changedSince(seen), (version) => {
          const newest = job.lastLine?.text ?? job.partial
          return [[{ lines: job.ring.lastLineNo, newest }], Option.some(version)] as const
        })),
      info: Effect.sync(() => jobInfo(job)),
      mirroredWhole: Effect.sync(() => job.mirroredWhole),
      handOver: listIn((place) =>
        Effect.suspend(() => {
          // One synchronous step: the output `onOutput` got and the cursor end at the same chunk.
          launched.detachOutput()
          owner = "jobs"
          const handed = { job: jobInfo(job), nextLineNo: job.ring.lastLineNo }
          return store.add(job, place).pipe(Effect.andThen(started), Effect.as(handed))
        })
      ),
      list: listIn((place) =>
        Effect.suspend(() => {
          owner = "caller, listed"
          return store.add(job, place).pipe(Effect.andThen(started), Effect.andThen(Effect.sync(() => jobInfo(job))))
        })
      ),
      stop: (reason) => runner.stop(job, reason)
    } satisfies RunningCommand
  })
