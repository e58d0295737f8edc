/**
 * Background jobs: start a command, read its output by cursor while it runs,
 * signal it, write to its stdin, list and remove it. The heart of mcp-ssh-live.
 *
 * A facade over src/jobs/: `JobStore` (registry, limits, reaper, log mirrors),
 * `JobRunner` (launch, sudo gate, watchers), `PersistentJobs`, and `waitTail`
 * (the tail algorithm). Readers (`tail`, `lines`) wait on a job's change signal,
 * never poll. Running non-persistent jobs get TERM → grace → KILL when the
 * service's scope closes (server shutdown).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import type { EndReason, JobStatus, SignalName, StreamName, Termination } from "../domain/jobs.js"
import type { Job } from "../jobs/Job.js"
import { JobRunner } from "../jobs/JobRunner.js"
import { JobStore } from "../jobs/JobStore.js"
import {
  type JobInfo,
  jobInfo,
  type RunRequest,
  type SignalResult,
  type SpawnError,
  type SpawnRequest,
  type TailRequest,
  type TailResult,
  validateRequest
} from "../jobs/model.js"
import { PersistentJobs } from "../jobs/PersistentJobs.js"
import { type TailHost, waitTail } from "../jobs/readTail.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"
import { renderPty, type Screen, versioned } from "../jobs/screens.js"
import { TmuxJobs } from "../jobs/TmuxJobs.js"
import { KEY_NAMES_HELP, parseKey } from "../output/keys.js"
import type { Pane } from "../ssh/tmux.js"
import { type RunningCommand, runningCommand } from "../jobs/RunningCommand.js"
import { jobChanges, jobLines } from "../jobs/streams.js"
import type { Tombstone } from "../jobs/Tombstones.js"
import type { Line } from "../output/RingBuffer.js"
import {
  type ChannelError,
  type ConnectFailure,
  InvalidArgumentError,
  type JobNotFoundError,
  JobRunningError,
  type LimitReachedError,
  type SignalNotDeliveredError,
  type TmuxUnavailableError,
  type RemoteOutputTooLargeError
} from "../domain/errors.js"
import { HostRegistry } from "./HostRegistry.js"

export type { EndReason, JobStatus }
export * from "../jobs/model.js"
export type { HandedOver, Progress, RunningCommand } from "../jobs/RunningCommand.js"
export { type Tombstone, tombstoneLine } from "../jobs/Tombstones.js"
export type { Screen } from "../jobs/screens.js"
export type { Pane } from "../ssh/tmux.js"

/** Input for a job: text, named keys (src/output/keys.ts) after it, then maybe EOF. */
export interface StdinOptions {
  readonly eof?: boolean
  readonly secret?: boolean
  readonly keys?: ReadonlyArray<string> | undefined
}

export class Jobs extends Context.Service<Jobs, {
  /** Start `command` in the background; returns as soon as the channel is open. */
  spawn(request: SpawnRequest): Effect.Effect<JobInfo, SpawnError>
  /**
   * Run a command in the foreground, not listed (what `ssh_exec` does); its timeouts and
   * sudo apply as for `spawn`. With `mayHandOver` it takes a job's place under the limits
   * before it starts. A scoped resource: closing the scope stops the command (TERM, grace,
   * KILL) unless it was handed over (`handOver`), which gives it to the jobs.
   */
  run(request: RunRequest): Effect.Effect<RunningCommand, SpawnError, Scope.Scope>
  /** Lines past the cursor, waiting up to `waitMs` for `minLines` of them (or a match of `until`, the end, a prompt). */
  tail(request: TailRequest): Effect.Effect<TailResult, JobNotFoundError>
  /** Reaching no process is SIGNAL_NOT_DELIVERED, never a success; a host that cannot be asked (a detached job's) is its error. */
  signal(jobId: string, signal: SignalName): Effect.Effect<SignalResult, JobNotFoundError | InvalidArgumentError | SignalNotDeliveredError | ConnectFailure | ChannelError | RemoteOutputTooLargeError>
  sendStdin(jobId: string, data: string, options?: StdinOptions): Effect.Effect<JobInfo, JobNotFoundError | JobRunningError | InvalidArgumentError | ChannelError | ConnectFailure | RemoteOutputTooLargeError>
  /** A terminal job's screen (pty, tmux job or followed pane); with `since`, the rows changed since that version. */
  screen(jobId: string, since?: number): Effect.Effect<{ readonly job: JobInfo; readonly screen: Screen }, JobNotFoundError | InvalidArgumentError | ChannelError | ConnectFailure | RemoteOutputTooLargeError>
  /** Follow a pane of the host's tmux server (`session:window.pane`) as a job: read-only until stdin is sent. */
  followPane(request: { readonly host?: string | undefined; readonly target: string; readonly label?: string | undefined }): Effect.Effect<JobInfo, ConnectFailure | ChannelError | TmuxUnavailableError | InvalidArgumentError | LimitReachedError | RemoteOutputTooLargeError>
  /** The panes of a host's tmux server. */
  panes(host?: string): Effect.Effect<ReadonlyArray<Pane>, ConnectFailure | ChannelError | TmuxUnavailableError | RemoteOutputTooLargeError>
  list(filter?: { readonly host?: string | undefined; readonly status?: JobStatus | undefined }): Effect.Effect<ReadonlyArray<JobInfo>>
  /** What the jobs reaped `reap_finished_after_sec` after their end left behind (bounded), newest first. */
  reaped(filter?: { readonly host?: string | undefined; readonly status?: JobStatus | undefined }): Effect.Effect<ReadonlyArray<Tombstone>>
  get(jobId: string): Effect.Effect<JobInfo, JobNotFoundError>
  /** Drop a job; a running one needs `force` (then TERM → grace → KILL first). */
  remove(jobId: string, options?: { readonly force?: boolean }): Effect.Effect<{ readonly job: JobInfo; readonly termination: Termination | null }, JobNotFoundError | JobRunningError>
  /** Stop every running non-persistent job of `host` (before a disconnect). */
  terminateHost(host: string): Effect.Effect<ReadonlyArray<{ readonly jobId: string; readonly termination: Termination }>>
  /** Running jobs per host alias. */
  readonly runningCountByHost: Effect.Effect<ReadonlyMap<string, number>>
  /** Emits (the job's change version) whenever a job gets output or changes state; ends after the job has ended. */
  changes(jobId: string): Stream.Stream<number, JobNotFoundError>
  /** A job's output as a stream of lines from `since` until the job ends. */
  lines(jobId: string, options?: { readonly since?: number; readonly stream?: "both" | StreamName }): Stream.Stream<Line, JobNotFoundError>
}>()("mcp-ssh-live/Jobs") {
  static readonly layerNoDeps = Layer.effect(Jobs)(Effect.gen(function*() {
    const store = yield* JobStore
    const runner = yield* JobRunner
    const persistent = yield* PersistentJobs
    const tmux = yield* TmuxJobs
    const registry = yield* HostRegistry
    const hosts = yield* RemoteHosts
    const rediscover = Effect.andThen(persistent.rediscover, tmux.rediscover)

    /** The job's state with whether its host is connected now (a host that is down says so at once). */
    const withHost = (info: JobInfo): Effect.Effect<JobInfo> =>
      Effect.map(hosts.isConnected(info.host), (hostConnected) => ({ ...info, hostConnected }))
    // A job of ours ends when its channel dies with the connection; a persistent or tmux job does not.
    const tailHost = (job: Job): TailHost => ({
      up: hosts.isConnected(job.host),
      down: job.persistent || job.tmux !== undefined ? hosts.closed(job.host) : undefined
    })

    // Perhaps a persistent or tmux job of an earlier run, on a host not looked at yet.
    const find = (jobId: string): Effect.Effect<Job, JobNotFoundError> =>
      store.has(jobId) || !/^job-[0-9a-f]+$/.test(jobId) ? store.find(jobId) : Effect.andThen(rediscover, store.find(jobId))

    const spawn = Effect.fn("Jobs.spawn")(function*(request: SpawnRequest) {
      yield* validateRequest(request)
      if (request.tmux === true && (request.sudo === true || request.idleTimeoutMs !== undefined || request.timeoutMs !== undefined)) {
        return yield* new InvalidArgumentError({
          message: `tmux: cannot be combined with ${request.sudo === true ? "sudo" : "idle_timeout_ms"} (the job runs in a session on the host, like a persistent one)`,
          hint: request.sudo === true ? "run sudo in the command; a person who attaches can type its password" : "stop it with ssh_signal"
        })
      }
      if (request.tmux !== true && request.persistent === true && (request.sudo === true || request.pty === true)) {
        return yield* new InvalidArgumentError({ message: "persistent: cannot be combined with sudo or pty (the job runs detached, with no terminal or stdin)" })
      }
      if (request.record === true && store.recordDir === undefined) {
        return yield* new InvalidArgumentError({
          message: "record: this server has no directory for recordings",
          hint: "the operator starts it with --record-dir DIR (or --log-dir DIR)"
        })
      }
      const host = yield* registry.resolve(request.host)
      // The place is given back unless the job took it (failed to start, or interrupted).
      const slot = yield* store.slot(host.alias)
      const started = request.tmux === true
        ? tmux.spawn({ ...request, host: host.alias }, slot)
        : request.persistent === true
        ? persistent.spawn({ ...request, host: host.alias }, slot)
        : Effect.gen(function*() {
          const { job } = yield* runner.launch(host, request)
          yield* store.add(job, slot)
          yield* Effect.logInfo(`job ${job.id} started on ${job.host}: ${job.command.slice(0, 200)}`)
          return job
        })
      return jobInfo(yield* started)
    }, Effect.scoped)

    const run = (request: RunRequest) =>
      Effect.gen(function*() {
        yield* validateRequest(request)
        const host = yield* registry.resolve(request.host)
        // Held until the command's scope closes, unless the command, handed over, took it.
        const slot = request.mayHandOver === true ? yield* store.slot(host.alias) : undefined
        return yield* runningCommand(yield* runner.launch(host, request), runner, store, slot)
      })

    const stopJob = (job: Job, reason: EndReason) =>
      job.tmux !== undefined ? tmux.stop(job, reason) : job.persistent ? persistent.stop(job, reason) : runner.stop(job, reason)

    const badKey = (i: number, name: string) =>
      new InvalidArgumentError({ message: `keys[${i}]: no key named ${JSON.stringify(name)}`, hint: `known keys: ${KEY_NAMES_HELP}` })

    const sendStdin = Effect.fn("Jobs.sendStdin")(function*(jobId: string, data: string, options?: StdinOptions) {
      const names = options?.keys ?? []
      const keys = []
      for (const [i, name] of names.entries()) {
        const key = parseKey(name)
        if (key === undefined) return yield* badKey(i, name)
        keys.push(key)
      }
      const job = yield* find(jobId)
      if (job.tmux !== undefined) {
        if (options?.secret === true) job.addMask(data)
        yield* tmux.send(job, { data, keys: keys.map((k) => k.tmux), eof: options?.eof === true })
        job.inputSent((options?.secret === true ? "" : data) + keys.map((k) => k.sequence(false)).join(""))
        return jobInfo(job)
      }
      if (keys.length === 0) return yield* runner.sendStdin(job, data, options)
      // The data (maybe secret) first, then the keys in the program's cursor-key mode.
      if (data !== "") yield* runner.sendStdin(job, data, { secret: options?.secret === true })
      const app = job.raw === undefined ? false : (yield* renderPty(job)).applicationCursor
      return yield* runner.sendStdin(job, keys.map((k) => k.sequence(app)).join(""), { eof: options?.eof === true })
    })

    const screen = Effect.fn("Jobs.screen")(function*(jobId: string, since?: number) {
      const job = yield* find(jobId)
      const snapshot = job.tmux !== undefined ? yield* tmux.capture(job) : yield* renderPty(job)
      return { job: jobInfo(job), screen: versioned(job, snapshot, since) }
    })

    const followPane = Effect.fn("Jobs.followPane")(function*(request: { readonly host?: string | undefined; readonly target: string; readonly label?: string | undefined }) {
      const host = yield* registry.resolve(request.host)
      const slot = yield* store.slot(host.alias)
      const job = yield* tmux.followPane(host.alias, request.target, request.label, slot)
      return jobInfo(job)
    }, Effect.scoped)

    const remove = Effect.fn("Jobs.remove")(function*(jobId: string, options?: { readonly force?: boolean }) {
      const job = yield* find(jobId)
      let termination: Termination | null = null
      if (job.alive) {
        // Removing a followed pane only stops following it: nothing to force.
        if (options?.force !== true && !(job.tmux !== undefined && job.tmux.session === undefined)) {
          return yield* new JobRunningError({
            message: `job '${jobId}' is still running`,
            hint: "pass force: true to stop it (TERM, grace, KILL) and remove it",
            jobId
          })
        }
        termination = yield* stopJob(job, "removed")
      }
      yield* store.delete(job)
      if (job.tmux !== undefined) yield* tmux.removeFiles(job)
      else if (job.persistent) yield* persistent.removeFiles(job)
      return { job: jobInfo(job), termination }
    })

    const listed = (filter?: { readonly host?: string | undefined; readonly status?: JobStatus | undefined }) =>
      Effect.map(store.all, (all) =>
        all.filter((j) => (filter?.host === undefined || j.host === filter.host) && (filter?.status === undefined || j.status === filter.status)))

    return Jobs.of({
      spawn,
      run,
      tail: (request) =>
        Effect.flatMap(find(request.jobId), (job) =>
          Effect.flatMap(waitTail(job, request, tailHost(job)), (r) => Effect.map(withHost(r.job), (info) => ({ ...r, job: info })))),
      signal: (jobId, sig) =>
        Effect.flatMap(find(jobId), (job): Effect.Effect<SignalResult, InvalidArgumentError | SignalNotDeliveredError | ConnectFailure | ChannelError | RemoteOutputTooLargeError> =>
          job.tmux !== undefined && job.tmux.session === undefined
            ? Effect.fail(new InvalidArgumentError({
              message: `job_id: '${jobId}' follows a person's tmux pane: its processes are not ours to signal`,
              hint: "send keys instead (ssh_send_stdin keys: [\"C-c\"]), or ssh_remove_job to stop following it"
            }))
            : Effect.flatMap(runner.signal(job, sig), (r) => Effect.map(withHost(r.job), (info) => ({ ...r, job: info })))),
      sendStdin: (jobId, data, options) => Effect.flatMap(sendStdin(jobId, data, options), withHost),
      screen: (jobId, since) => Effect.flatMap(screen(jobId, since), (r) => Effect.map(withHost(r.job), (job) => ({ ...r, job }))),
      followPane,
      panes: (host) => Effect.flatMap(registry.resolve(host), (entry) => tmux.panes(entry.alias)),
      list: (filter) => Effect.andThen(rediscover, Effect.flatMap(listed(filter), (jobs) => Effect.forEach(jobs, (j) => withHost(jobInfo(j))))),
      reaped: (filter) =>
        Effect.map(store.reaped, (all) =>
          all.filter((t) => (filter?.host === undefined || t.host === filter.host) && (filter?.status === undefined || t.status === filter.status))),
      get: (jobId) => Effect.flatMap(find(jobId), (job) => withHost(jobInfo(job))),
      remove,
      terminateHost: (host) =>
        Effect.flatMap(listed({ host }), (jobs) =>
          Effect.gen(function*() {
            // Persistent jobs go on; tmux sessions (and our pipes on panes) go with the host.
            const running = jobs.filter((j) => j.alive && (!j.persistent || j.tmux !== undefined))
            const stopped = yield* Effect.forEach(
              running,
              (job) => Effect.map(stopJob(job, "disconnect"), (termination) => ({ jobId: job.id, termination })),
              { concurrency: "unbounded" }
            )
            yield* Effect.forEach(jobs.filter((j) => j.tmux !== undefined), tmux.removeFiles, { concurrency: "unbounded", discard: true })
            return stopped
          })),
      runningCountByHost: Effect.map(listed(), (jobs) => {
        const counts = new Map<string, number>()
        for (const j of jobs) if (j.alive) counts.set(j.host, (counts.get(j.host) ?? 0) + 1)
        return counts
      }),
      lines: (jobId, options) => Stream.unwrap(Effect.map(find(jobId), (job) => jobLines(job, options))),
      changes: (jobId) => Stream.unwrap(Effect.map(find(jobId), jobChanges))
    })
  }))

  /** Jobs over its parts; needs AppConfig, RemoteHosts, HostRegistry and ProcessGroups. */
  static readonly layer = Jobs.layerNoDeps.pipe(
    Layer.provide(Layer.mergeAll(JobRunner.layer, PersistentJobs.layer, TmuxJobs.layer).pipe(Layer.provideMerge(JobStore.layer)))
  )
}
