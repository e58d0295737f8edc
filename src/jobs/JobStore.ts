/**
 * The jobs held in memory: the registry, the places under `max_jobs_per_host` and
 * `max_jobs` (with the slots reserved by jobs being started and by commands that may
 * be handed over), the log mirrors, and the reaper that drops finished jobs
 * `reap_finished_after_sec` after they ended, leaving a tombstone of each (`Tombstones`).
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { Clock, Context, Effect, FiberSet, Layer, Schedule, type Scope } from "effect"
import { ensurePrivateDir, openPrivateAppendAsync } from "../files/privateFiles.js"
import { AppConfig } from "../domain/AppConfig.js"
import { PTY_SIZE } from "../ssh/RemoteHosts.js"
import { SESSION_SIZE } from "../ssh/tmux.js"
import { JobNotFoundError, LimitReachedError } from "../domain/errors.js"
import { Job, type JobOptions } from "./Job.js"
import { describeTombstone, type Tombstone, Tombstones } from "./Tombstones.js"
import { recordingPath, startRecording } from "./Recording.js"

/** A place under `max_jobs_per_host` and `max_jobs`, taken before a job is started. */
export interface Slot {
  readonly host: string
}

export class JobStore extends Context.Service<JobStore, {
  /** A new job (not listed yet), on this store's clock and ring sizes. */
  create(
    options: Omit<JobOptions, "ringBufferLines" | "ringBufferBytes" | "maxLineBytes" | "clock" | "id" | "recording"> & {
      readonly id?: string
      /** Record it as asciicast into `recordDir` (check `recordDir` first). */
      readonly record?: boolean | undefined
    }
  ): Job
  /** Where recordings go (`--record-dir`, else `--log-dir`); undefined: none can be made. */
  readonly recordDir: string | undefined
  /**
   * Take a place for a job on `host` for the scope's life, or fail: running jobs (and slots) per
   * host under max_jobs_per_host, all jobs in memory (running or finished, and slots) under
   * max_jobs. Synchronous, so two calls cannot both take the last place. Given back when the
   * scope closes, unless a job took it (`add`).
   */
  slot(host: string): Effect.Effect<Slot, LimitReachedError, Scope.Scope>
  /** List `job` from now on, in place of `slot` if given (or past max_jobs: false, not listed), and mirror its log. */
  add(job: Job, slot?: Slot): Effect.Effect<boolean>
  /** Drop a job from the list and close its log mirror. */
  delete(job: Job): Effect.Effect<void>
  has(jobId: string): boolean
  find(jobId: string): Effect.Effect<Job, JobNotFoundError>
  /** Every listed job. */
  readonly all: Effect.Effect<ReadonlyArray<Job>>
  /** What the reaped jobs left (bounded in time and number), newest first. */
  readonly reaped: Effect.Effect<ReadonlyArray<Tombstone>>
}>()("mcp-ssh-live/JobStore") {
  static readonly layer = Layer.effect(JobStore)(Effect.gen(function*() {
    const config = yield* AppConfig
    const clock = yield* Clock.Clock
    const limits = config.limits
    const jobs = new Map<string, Job>()
    const tombstones = new Tombstones()
    /** Places taken by jobs being started and by commands that may hand over: they count as jobs. */
    const slots = new Set<Slot>()
    // Log streams report errors in callbacks: their warnings run in fibers of this layer's scope.
    const runInScope = yield* FiberSet.makeRuntime()

    const logDir = config.logDir
    const recordDir = config.recordDir ?? config.logDir
    /** Recordings not closed yet: closed when their job ends, else at shutdown. */
    const recordings = new Set<{ close(): Promise<void> }>()
    if (logDir !== undefined) {
      yield* Effect.tryPromise(() => ensurePrivateDir(logDir)).pipe(
        Effect.flatMap((note) =>
          note === undefined ? Effect.void : note.warn ? Effect.logWarning(`log_dir ${note.message}`) : Effect.logInfo(`log_dir ${note.message}`)
        ),
        Effect.catch((e) => Effect.logWarning(`log_dir ${logDir}: ${e.message}`))
      )
    }

    const newId = () => {
      for (;;) {
        const id = `job-${randomBytes(4).toString("hex")}`
        if (!jobs.has(id)) return id
      }
    }

    const openLog = (job: Job) =>
      logDir === undefined ? Effect.void : Effect.tryPromise(() => openPrivateAppendAsync(path.join(logDir, `${job.id}.log`))).pipe(
        Effect.map((log) => {
          log.on("error", (e) => void runInScope(Effect.logWarning(`log mirror of ${job.id}: ${e.message}`)))
          // Removed or reaped while the file was being opened: nothing to mirror.
          if (jobs.get(job.id) === job) job.attachLog(log)
          else log.end()
        }),
        Effect.catch((e) => Effect.logWarning(`log mirror of ${job.id}: ${e.message}`))
      )

    const closeLog = (job: Job) => Effect.promise(() => job.closeLog())

    const reserve = (host: string): Effect.Effect<Slot, LimitReachedError> =>
      Effect.suspend(() => {
        let running = 0
        for (const j of jobs.values()) if (j.host === host && j.alive) running++
        for (const slot of slots) if (slot.host === host) running++
        if (running >= limits.maxJobsPerHost) {
          return Effect.fail(new LimitReachedError({
            message: `${running} jobs are running on ${host}; max_jobs_per_host is ${limits.maxJobsPerHost}`,
            hint: "wait for jobs to end, stop some with ssh_signal / ssh_remove_job, or raise [limits] max_jobs_per_host",
            host,
            limit: "max_jobs_per_host",
            max: limits.maxJobsPerHost
          }))
        }
        const held = jobs.size + slots.size
        if (held >= limits.maxJobs) {
          return Effect.fail(new LimitReachedError({
            message: `${held} jobs are held in memory (running or finished); max_jobs is ${limits.maxJobs}`,
            hint: `remove finished jobs with ssh_remove_job (they are also dropped reap_finished_after_sec after they end), or raise [limits] max_jobs`,
            limit: "max_jobs",
            max: limits.maxJobs
          }))
        }
        const slot: Slot = { host }
        slots.add(slot)
        return Effect.succeed(slot)
      })

    const add = (job: Job, slot?: Slot) =>
      Effect.suspend(() => {
        if (slot !== undefined) slots.delete(slot)
        else if (jobs.size + slots.size >= limits.maxJobs) return Effect.succeed(false)
        jobs.set(job.id, job)
        tombstones.delete(job.id)
        return Effect.as(openLog(job), true)
      })

    const find = (jobId: string) =>
      Effect.suspend(() => {
        const job = jobs.get(jobId)
        if (job !== undefined) return Effect.succeed(job)
        const tombstone = tombstones.get(jobId, clock.currentTimeMillisUnsafe())
        return Effect.fail(
          tombstone === undefined
            ? new JobNotFoundError({
              message: `no job '${jobId}'`,
              hint: `ssh_list_jobs shows the jobs; finished ones are removed ${limits.reapFinishedAfterSec} s after they end`,
              jobId
            })
            : new JobNotFoundError({
              message: describeTombstone(tombstone),
              hint: `finished jobs are removed ${limits.reapFinishedAfterSec} s after they end (reap_finished_after_sec)` +
                (logDir === undefined ? "" : `; its lines are in the server's log_dir as ${jobId}.log`),
              jobId
            })
        )
      })

    // Reaper: finished jobs are dropped reap_finished_after_sec after they ended.
    yield* Effect.forkScoped(Effect.repeat(
      Effect.gen(function*() {
        const cutoff = (yield* Clock.currentTimeMillis) - limits.reapFinishedAfterSec * 1000
        for (const job of [...jobs.values()]) {
          if (!job.running && job.endedAt !== null && job.endedAt.getTime() <= cutoff) {
            jobs.delete(job.id)
            tombstones.add({
              jobId: job.id,
              host: job.host,
              label: job.label,
              status: job.status,
              exitStatus: job.exitStatus,
              signal: job.signal,
              endReason: job.endReason,
              endedAt: job.endedAt,
              reapedAt: new Date(cutoff + limits.reapFinishedAfterSec * 1000),
              lines: job.ring.lastLineNo
            })
            yield* closeLog(job)
          }
        }
      }),
      Schedule.spaced(`${Math.max(1, Math.min(30, limits.reapFinishedAfterSec))} seconds`)
    ))

    // Closed after the runner has stopped the running jobs: flush the log mirrors and recordings.
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.forEach([...jobs.values()], closeLog, { discard: true }),
        Effect.promise(() => Promise.all([...recordings].map((r) => r.close())))
      )
    )

    const create: Context.Service.Shape<typeof JobStore>["create"] = ({ record, ...options }) => {
      const id = options.id ?? newId()
      const recording = record === true && recordDir !== undefined ? recordingPath(recordDir, id) : undefined
      const job = new Job({
        ...options,
        id,
        clock,
        mirror: logDir !== undefined,
        ringBufferLines: limits.ringBufferLines,
        ringBufferBytes: limits.ringBufferBytes,
        maxLineBytes: limits.maxLineBytes,
        recording
      })
      if (recording !== undefined) {
        const size = options.tmux !== undefined ? SESSION_SIZE : options.pty ? PTY_SIZE : SESSION_SIZE
        const r = startRecording(job, recording, size, () => clock.currentTimeMillisUnsafe(), (message) => void runInScope(Effect.logWarning(message)))
        recordings.add(r)
        job.observe({ output: () => {}, input: () => {}, end: () => void r.close().then(() => recordings.delete(r)) })
      }
      return job
    }

    return JobStore.of({
      create,
      recordDir,
      slot: (host) => Effect.acquireRelease(reserve(host), (slot) => Effect.sync(() => void slots.delete(slot))),
      add,
      delete: (job) => Effect.suspend(() => (jobs.delete(job.id), closeLog(job))),
      has: (jobId) => jobs.has(jobId),
      find,
      all: Effect.sync(() => [...jobs.values()]),
      reaped: Effect.sync(() => tombstones.list(clock.currentTimeMillisUnsafe()))
    })
  }))
}
