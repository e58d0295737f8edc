/**
 * Background jobs: start a command, read its output by cursor while it runs,
 * signal it, write to its stdin, list and remove it. The heart of mcp-ssh-live.
 *
 * Every job's output goes through decoder → ring buffer → change signal; readers
 * (`tail`, `lines`) wait on the signal, never poll. Running non-persistent jobs
 * get TERM → grace → KILL when the service's scope closes (server shutdown).
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Deferred, Effect, Exit, Layer, Option, Redacted, Schedule, Stream } from "effect"
import { ensurePrivateDir, openPrivateAppend } from "../files/privateFiles.js"
import { RE2JS } from "re2js"
import { Job } from "../jobs/Job.js"
import type { Line } from "../output/RingBuffer.js"
import { RemoteProcess, type Sink } from "../ssh/RemoteProcess.js"
import { ENV_NAME } from "../domain/hosts.js"
import type { EndReason, JobStatus, SignalName, StreamName, Termination } from "../domain/jobs.js"
import { commandBlock, fieldWithNul, wrapCommand } from "../ssh/shell.js"
import { collect } from "../ssh/collect.js"
import { exitScript, followScript, launchBlock, launchScript, listScript, parseList, removeScript } from "../ssh/persistent.js"
import { SudoGate, type SudoOutcome } from "../ssh/SudoGate.js"
import { AppConfig } from "./AppConfig.js"
import { type ConnectFailure, Connections } from "./Connections.js"
import {
  ChannelError,
  InvalidArgumentError,
  JobNotFoundError,
  JobRunningError,
  LimitReachedError,
  SudoAuthError,
  SudoPasswordRequiredError
} from "../domain/errors.js"
import { HostRegistry } from "./HostRegistry.js"
import { ProcessGroups } from "./ProcessGroups.js"

export type { EndReason, JobStatus }

export interface SpawnRequest {
  readonly host?: string | undefined
  readonly command: string
  readonly pty?: boolean | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly label?: string | undefined
  /** Stop the job (TERM → grace → KILL) after this long without output. */
  readonly idleTimeoutMs?: number | undefined
  /** Stop the job after this long in all. */
  readonly timeoutMs?: number | undefined
  /** Run as root through `sudo -S`; the password comes from the host's sudo_password_env. */
  readonly sudo?: boolean | undefined
  /**
   * Run detached on the host (`setsid nohup`, output in ~/.cache/mcp-ssh-live/jobs/<id>/):
   * it survives the connection dropping and this server restarting. No stdin, no pty, no sudo.
   */
  readonly persistent?: boolean | undefined
}

/** A process started by `launch`: a job not necessarily registered yet. */
export interface Launched {
  readonly job: Job
  readonly process: RemoteProcess
  /** Held when the process may become a listed job (`mayHandOver`): its place under the limits. */
  readonly slot?: Slot | undefined
}

/** A place under `max_jobs_per_host` and `max_jobs`, taken before a job is started. */
export interface Slot {
  readonly host: string
}

/** Why a job could not be started. */
export type SpawnError =
  | ConnectFailure
  | ChannelError
  | InvalidArgumentError
  | LimitReachedError
  | SudoPasswordRequiredError
  | SudoAuthError

export interface LaunchRequest extends SpawnRequest {
  readonly onOutput?: Sink | undefined
  /**
   * The process may be listed later (`adopt`): take its slot under the limits now, or
   * fail with LIMIT_REACHED before anything starts.
   */
  readonly mayHandOver?: boolean | undefined
}

/** A job as reported to callers. */
export interface JobInfo {
  readonly jobId: string
  readonly host: string
  readonly command: string
  readonly label: string | null
  readonly status: JobStatus
  readonly exitStatus: number | null
  readonly signal: string | null
  readonly pid: number | null
  readonly persistent: boolean
  readonly startedAt: Date
  readonly endedAt: Date | null
  readonly lines: { readonly stdout: number; readonly stderr: number; readonly total: number }
  readonly dropped: number
  readonly awaitingInput: boolean
  readonly prompt: string | null
  /** Set when we stopped it: signal, timeout, idle-timeout, removed, disconnect, shutdown. */
  readonly endReason: EndReason | null
}

export interface TailRequest {
  readonly jobId: string
  readonly since: number
  readonly waitMs: number
  readonly maxLines: number
  readonly maxBytes: number
  readonly stream: "both" | StreamName
  readonly until?: LineMatcher | undefined
  /**
   * Return once this many new lines are collected (also on the job's end, an `until` match,
   * a new prompt, the caps, or `waitMs`). Default: 1 without `until`; with `until`, the match
   * (or the caps) alone.
   */
  readonly minLines?: number | undefined
}

/** A compiled `until` (RE2 semantics: linear time in the line's length). */
export interface LineMatcher {
  /** True when the pattern matches anywhere in `text`. */
  test(text: string): boolean
}

export interface TailResult {
  readonly lines: ReadonlyArray<Line>
  readonly nextLineNo: number
  readonly dropped: number
  readonly partial: string
  readonly more: boolean
  /** The first new line that matched `until`, if any. */
  readonly matched: Line | null
  readonly job: JobInfo
}

export interface SignalResult {
  readonly sentViaChannel: boolean
  readonly sentViaPid: boolean
  readonly job: JobInfo
}

/** Environment names are checked before anything is sent: they end up in a shell script. */
export const validateEnv = (env: Readonly<Record<string, string>> | undefined) =>
  Effect.forEach(Object.keys(env ?? {}), (name) =>
    ENV_NAME.test(name)
      ? Effect.void
      : Effect.fail(
        new InvalidArgumentError({
          message: `env: '${name}' is not a valid environment variable name`,
          hint: "names are letters, digits and _, not starting with a digit"
        })
      ), { discard: true })

/**
 * Everything of a request that becomes shell text is checked before anything is sent:
 * env names, and no NUL byte (no shell string can hold one). Stdin data may hold NUL.
 */
export const validateRequest = (request: SpawnRequest) =>
  Effect.andThen(validateEnv(request.env), () => {
    const field = fieldWithNul({ command: request.command, env: request.env, cwd: request.cwd, label: request.label })
    return field === undefined ? Effect.void : Effect.fail(
      new InvalidArgumentError({
        message: `${field}: contains a NUL byte, which no shell string can carry`,
        hint: "remove the \\0 character; binary data can go to the command's stdin instead"
      })
    )
  })

const info = (job: Job): JobInfo => {
  const c = job.ring.counts()
  const prompt = job.awaitingInput ? job.partial : null
  return {
    jobId: job.id,
    host: job.host,
    command: job.command,
    label: job.label,
    status: job.status,
    exitStatus: job.exitStatus,
    signal: job.signal,
    pid: job.pid,
    persistent: job.persistent,
    startedAt: job.startedAt,
    endedAt: job.endedAt,
    lines: { stdout: c.stdout, stderr: c.stderr, total: c.total },
    dropped: c.dropped.stdout + c.dropped.stderr,
    awaitingInput: job.awaitingInput,
    prompt,
    endReason: job.endReason
  }
}


/** Signals after which we report an ended job as killed. */
const STOPPING: ReadonlySet<SignalName> = new Set(["TERM", "KILL", "INT", "HUP", "QUIT"])

export class Jobs extends Context.Service<Jobs, {
  /** Start `command` in the background; returns as soon as the channel is open. */
  spawn(request: SpawnRequest): Effect.Effect<JobInfo, SpawnError>
  /**
   * Start a command as a job that is not listed yet (what `ssh_exec` runs on); its
   * timeouts and sudo apply as for `spawn`. `onOutput` sees every chunk too.
   */
  launch(request: LaunchRequest): Effect.Effect<Launched, SpawnError>
  /** List a launched job from now on (exec handing over to a job); it holds its slot, so this never exceeds a limit. */
  adopt(launched: Launched): Effect.Effect<JobInfo>
  /** Stop a launched process: TERM, grace, KILL on its process group. */
  stop(launched: Launched, reason: EndReason): Effect.Effect<Termination>
  /** Lines past the cursor, waiting up to `waitMs` for `minLines` of them (or a match of `until`, the end, a prompt). */
  tail(request: TailRequest): Effect.Effect<TailResult, JobNotFoundError>
  signal(jobId: string, signal: SignalName): Effect.Effect<SignalResult, JobNotFoundError>
  sendStdin(jobId: string, data: string, options?: { readonly eof?: boolean; readonly secret?: boolean }): Effect.Effect<JobInfo, JobNotFoundError | JobRunningError | InvalidArgumentError>
  list(filter?: { readonly host?: string | undefined; readonly status?: JobStatus | undefined }): Effect.Effect<ReadonlyArray<JobInfo>>
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
  static readonly layer = Layer.effect(Jobs)(Effect.gen(function*() {
    const config = yield* AppConfig
    const connections = yield* Connections
    const registry = yield* HostRegistry
    const groups = yield* ProcessGroups
    const jobs = new Map<string, Job>()
    const layerScope = yield* Effect.scope
    // Stream callbacks run outside any fiber: give their effects this layer's services (loggers included).
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    /** Launched but not listed (an exec in progress): stopped at shutdown too. */
    const unlisted = new Set<Launched>()
    const limits = config.limits
    /** Places taken by jobs being started and by execs that may hand over: they count as jobs. */
    const slots = new Set<Slot>()

    /**
     * Take a place for a job on `host`, or fail: running jobs (and slots) per host under
     * max_jobs_per_host, all jobs in memory (running or finished, and slots) under max_jobs.
     * Synchronous, so two calls cannot both take the last place.
     */
    const reserve = (host: string): Effect.Effect<Slot, LimitReachedError> =>
      Effect.suspend(() => {
        let running = 0
        for (const j of jobs.values()) if (j.host === host && j.running) running++
        for (const slot of slots) if (slot.host === host) running++
        if (running >= limits.maxJobsPerHost) {
          return Effect.fail(new LimitReachedError({
            message: `${running} jobs are running on ${host}; max_jobs_per_host is ${limits.maxJobsPerHost}`,
            hint: "wait for jobs to end, stop some with ssh_signal / ssh_remove_job, or raise [limits] max_jobs_per_host"
          }))
        }
        const held = jobs.size + slots.size
        if (held >= limits.maxJobs) {
          return Effect.fail(new LimitReachedError({
            message: `${held} jobs are held in memory (running or finished); max_jobs is ${limits.maxJobs}`,
            hint: `remove finished jobs with ssh_remove_job (they are also dropped reap_finished_after_sec after they end), or raise [limits] max_jobs`
          }))
        }
        const slot: Slot = { host }
        slots.add(slot)
        return Effect.succeed(slot)
      })

    /** Give a slot back (its job ended unlisted, or failed to start); idempotent. */
    const release = (slot: Slot | undefined) => Effect.sync(() => void (slot !== undefined && slots.delete(slot)))

    if (config.logDir !== undefined) {
      const dir = config.logDir
      const note = yield* Effect.promise(() => ensurePrivateDir(dir))
      if (note !== undefined) yield* (note.warn ? Effect.logWarning(`log_dir ${note.message}`) : Effect.logInfo(`log_dir ${note.message}`))
    }

    const find = (jobId: string): Effect.Effect<Job, JobNotFoundError> =>
      Effect.suspend(() => {
        const job = jobs.get(jobId)
        // Perhaps a persistent job of an earlier run, on a host not looked at yet.
        if (job === undefined && /^job-[0-9a-f]+$/.test(jobId)) return Effect.andThen(rediscover, () => findKnown(jobId))
        return findKnown(jobId)
      })

    const findKnown = (jobId: string) =>
      Effect.suspend(() => {
        const job = jobs.get(jobId)
        return job === undefined
          ? Effect.fail(new JobNotFoundError({
            message: `no job '${jobId}'`,
            hint: "ssh_list_jobs shows the jobs; finished ones are removed after reap_finished_after_sec"
          }))
          : Effect.succeed(job)
      })

    const newId = () => {
      for (;;) {
        const id = `job-${randomBytes(4).toString("hex")}`
        if (!jobs.has(id)) return id
      }
    }

    const watch = (job: Job, process: RemoteProcess, gate: SudoGate | undefined) =>
      Effect.gen(function*() {
        const exit = yield* Deferred.await(process.exited)
        gate?.ended()
        job.finish(exit)
        yield* Effect.logInfo(`job ${job.id} on ${job.host} ended: ${job.status}` +
          (job.exitStatus !== null ? ` ${job.exitStatus}` : "") + (job.signal !== null ? ` SIG${job.signal}` : ""))
      })

    const openLog = (job: Job) => {
      if (config.logDir === undefined) return
      let log: fs.WriteStream
      try {
        log = openPrivateAppend(path.join(config.logDir, `${job.id}.log`))
      } catch (e) {
        runFork(Effect.logWarning(`log mirror of ${job.id}: ${(e as Error).message}`))
        return
      }
      log.on("error", (e) => runFork(Effect.logWarning(`log mirror of ${job.id}: ${e.message}`)))
      job.attachLog(log)
    }

    /** Stops the process when it prints nothing for `idleMs`; sleeps, never polls faster than that. */
    const idleWatch = (job: Job, process: RemoteProcess, idleMs: number) =>
      Effect.gen(function*() {
        for (;;) {
          const left = idleMs - job.quietForMs
          if (left <= 0) {
            yield* stop({ job, process }, "idle-timeout")
            return
          }
          const ended = yield* Deferred.await(process.exited).pipe(Effect.timeoutOption(left))
          if (Option.isSome(ended)) return
        }
      })

    const deadlineWatch = (job: Job, process: RemoteProcess, ms: number) =>
      Deferred.await(process.exited).pipe(
        Effect.timeoutOption(ms),
        Effect.flatMap((ended) => Option.isSome(ended) ? Effect.void : Effect.asVoid(stop({ job, process }, "timeout")))
      )

    const sudoPassword = (env: string | undefined) =>
      env === undefined || process.env[env] === undefined ? undefined : Redacted.make(process.env[env])

    /** Start `request` on `host` (resolved); `slot` goes with the process until it is listed or ends. */
    const launchOn = Effect.fn("Jobs.launch")(function*(
      host: { readonly alias: string; readonly auth: { readonly sudoPasswordEnv?: string | undefined } },
      request: LaunchRequest,
      slot: Slot | undefined
    ) {
      const password = request.sudo === true ? sudoPassword(host.auth.sudoPasswordEnv) : undefined
      const job = new Job({
        id: newId(),
        host: host.alias,
        command: request.command,
        label: request.label ?? null,
        pty: request.pty === true,
        persistent: false,
        asRoot: request.sudo === true ? { password } : undefined,
        ringBufferLines: limits.ringBufferLines,
        ringBufferBytes: limits.ringBufferBytes,
        maxLineBytes: limits.maxLineBytes
      })
      const script = wrapCommand({ sudo: request.sudo, pty: job.pty })
      const block = commandBlock({ command: request.command, env: request.env, cwd: request.cwd })
      const channel = yield* connections.exec(host.alias, script, { pty: job.pty })
      const onOutput = request.onOutput
      const deliver: Sink = onOutput === undefined
        ? (stream, chunk) => job.ingest(stream, chunk)
        : (stream, chunk) => {
          job.ingest(stream, chunk)
          onOutput(stream, chunk)
        }
      let gate: SudoGate | undefined
      const sudoOutcome = Deferred.makeUnsafe<SudoOutcome>()
      let sink = deliver
      if (request.sudo === true) {
        gate = new SudoGate(
          password === undefined ? undefined : Redacted.value(password),
          (data) => channel.write(data),
          (outcome) => Deferred.doneUnsafe(sudoOutcome, Exit.succeed(outcome)),
          deliver
        )
        if (password !== undefined) job.addMask(Redacted.value(password))
        sink = gate.sink
      }
      const process = new RemoteProcess(channel, sink)
      job.process = process
      const launched: Launched = { job, process, slot }
      unlisted.add(launched)
      yield* Effect.forkDetach(Effect.ensuring(
        watch(job, process, gate),
        Effect.andThen(Effect.sync(() => unlisted.delete(launched)), release(slot))
      ))
      if (request.idleTimeoutMs !== undefined) yield* Effect.forkDetach(idleWatch(job, process, request.idleTimeoutMs))
      if (request.timeoutMs !== undefined) yield* Effect.forkDetach(deadlineWatch(job, process, request.timeoutMs))
      // The command block goes to the launcher's stdin: at once when nothing else reads or
      // echoes stdin first; with a pty once the terminal is raw (after the PID marker);
      // with sudo once the root shell is in.
      if (request.sudo !== true && !job.pty) yield* process.write(block)
      // The wrapper prints the PID before anything else: one round trip, so the reply can carry it.
      yield* Deferred.await(process.started).pipe(Effect.timeoutOption("2 seconds"))
      if (request.sudo !== true && job.pty) yield* process.write(block)
      if (gate !== undefined) {
        const outcome = yield* Deferred.await(sudoOutcome).pipe(
          Effect.onInterrupt(() => Effect.asVoid(stop(launched, "removed")))
        )
        if (outcome._tag !== "Ready") {
          yield* stop(launched, "removed")
          if (outcome._tag === "PasswordRequired") {
            return yield* new SudoPasswordRequiredError({
              message: `sudo on ${host.alias} asks for a password and none is configured`,
              hint: `set sudo_password_env for [hosts.${host.alias}] in the config file (or --sudo-password-env), naming an environment variable that holds it`
            })
          }
          return yield* new SudoAuthError({
            message: `sudo on ${host.alias} refused: ${outcome.detail === "" ? "wrong password" : outcome.detail}`,
            hint: "check the password in the variable named by sudo_password_env, and the user's sudo rights"
          })
        }
        yield* process.write(block)
      }
      return launched
    })

    const launch = (request: LaunchRequest) =>
      Effect.gen(function*() {
        yield* validateRequest(request)
        const host = yield* registry.resolve(request.host)
        const slot = request.mayHandOver === true ? yield* reserve(host.alias) : undefined
        return yield* launchOn(host, request, slot).pipe(Effect.onExit((exit) => Exit.isFailure(exit) ? release(slot) : Effect.void))
      })

    const adopt = (launched: Launched) =>
      Effect.sync(() => {
        const { job } = launched
        unlisted.delete(launched)
        if (launched.slot !== undefined) slots.delete(launched.slot)
        jobs.set(job.id, job)
        openLog(job)
        return info(job)
      }).pipe(Effect.tap((i) => Effect.logInfo(`job ${i.jobId} started on ${i.host}: ${i.command.slice(0, 200)}`)))

    const spawn = Effect.fn("Jobs.spawn")(function*(request: SpawnRequest) {
      yield* validateRequest(request)
      if (request.persistent === true && (request.sudo === true || request.pty === true)) {
        return yield* new InvalidArgumentError({ message: "persistent: cannot be combined with sudo or pty (the job runs detached, with no terminal or stdin)" })
      }
      const host = yield* registry.resolve(request.host)
      const slot = yield* reserve(host.alias)
      const started = request.persistent === true
        ? spawnPersistent({ ...request, host: host.alias }, slot)
        : Effect.flatMap(launchOn(host, request, slot), adopt)
      return yield* started.pipe(Effect.onExit((exit) => Exit.isFailure(exit) ? release(slot) : Effect.void))
    })

    /** A small helper command of ours on `alias`, its output collected. */
    const capture = (alias: string, command: string, stdin?: string) =>
      Effect.flatMap(connections.exec(alias, command), (channel) => collect(channel, stdin))

    const newPersistentJob = (host: string, id: string, command: string, label: string | null) =>
      new Job({
        id,
        host,
        command,
        label,
        pty: false,
        persistent: true,
        ringBufferLines: limits.ringBufferLines,
        ringBufferBytes: limits.ringBufferBytes,
        maxLineBytes: limits.maxLineBytes
      })

    /**
     * Follow a persistent job's files from the offsets already read. When the follower's
     * connection dies the job goes on over there: wait for a reconnect and resume from
     * the offsets, so no byte is lost or read twice.
     */
    const follow = (job: Job) =>
      Effect.gen(function*() {
        for (;;) {
          const channel = yield* connections.exec(job.host, followScript(job.id, job.offsets)).pipe(
            Effect.retry({ schedule: Schedule.spaced("1 second"), times: Math.max(3, limits.reconnectRetries * 3) }),
            Effect.option
          )
          if (Option.isNone(channel)) {
            job.finish({ exitStatus: null, signal: null })
            yield* Effect.logWarning(`job ${job.id}: cannot reach ${job.host} to follow it; reported lost (it may still run there)`)
            return
          }
          const ch = channel.value
          const code = yield* Effect.callback<number | null>((resume) => {
            let exitCode: number | null = null
            ch.on("data", (d: Buffer) => job.ingest("stdout", d))
            ch.stderr.on("data", (d: Buffer) => job.ingest("stderr", d))
            ch.on("exit", (c: number | null) => {
              exitCode = typeof c === "number" ? c : null
            })
            ch.on("error", () => {})
            ch.on("close", () => resume(Effect.succeed(exitCode)))
            ch.end()
          })
          if (code === null) {
            yield* Effect.logWarning(`job ${job.id}: follower lost with the connection; resuming at ${job.offsets.stdout}+${job.offsets.stderr} bytes`)
            continue
          }
          // The process is gone and its files are read to the end.
          const status = yield* capture(job.host, exitScript(job.id)).pipe(Effect.option)
          const text = Option.isSome(status) ? status.value.stdout.trim() : ""
          const exitStatus = /^\d+$/.test(text) ? Number(text) : null
          job.finish(exitStatus === null
            ? { exitStatus: null, signal: job.endReason !== null ? "TERM" : "KILL" }
            : { exitStatus, signal: null })
          yield* Effect.logInfo(`job ${job.id} on ${job.host} ended: ${job.status}${exitStatus !== null ? ` ${exitStatus}` : ""}`)
          return
        }
      })

    const spawnPersistent = Effect.fn("Jobs.spawnPersistent")(function*(request: SpawnRequest & { readonly host: string }, slot: Slot) {
      const job = newPersistentJob(request.host, newId(), request.command, request.label ?? null)
      const started = yield* capture(request.host, launchScript(job.id), launchBlock({
        command: request.command,
        label: job.label,
        env: request.env,
        cwd: request.cwd
      }))
      const pid = /PID:(\d+)/.exec(started.stdout)?.[1]
      if (pid === undefined) {
        return yield* new ChannelError({ message: `could not start the persistent job on ${request.host}: ${started.stderr.trim() || `exit ${started.code}`}` })
      }
      job.remotePid = Number(pid)
      slots.delete(slot)
      jobs.set(job.id, job)
      openLog(job)
      yield* Effect.forkIn(follow(job), layerScope)
      yield* Effect.logInfo(`persistent job ${job.id} started on ${request.host} (pid ${pid}): ${request.command.slice(0, 200)}`)
      return info(job)
    })

    /** Hosts whose persistent job directory was read since this server started. */
    const scanned = new Set<string>()

    /** Find persistent jobs left on connected hosts by an earlier run of this server. */
    const rediscover = Effect.gen(function*() {
      for (const host of yield* registry.list) {
        if (scanned.has(host.alias) || (yield* connections.info(host.alias)) === undefined) continue
        scanned.add(host.alias)
        const listed = yield* capture(host.alias, listScript()).pipe(Effect.option)
        if (Option.isNone(listed)) continue
        for (const found of parseList(listed.value.stdout)) {
          if (jobs.has(found.jobId)) continue
          if (jobs.size + slots.size >= limits.maxJobs) {
            yield* Effect.logWarning(`persistent job ${found.jobId} on ${host.alias} not listed: max_jobs (${limits.maxJobs}) reached`)
            continue
          }
          const job = newPersistentJob(host.alias, found.jobId, found.command, found.label)
          job.remotePid = found.pid
          job.startedAt = found.startedAt
          jobs.set(job.id, job)
          openLog(job)
          yield* Effect.forkIn(follow(job), layerScope)
          yield* Effect.logInfo(`found persistent job ${job.id} on ${host.alias} (${found.running ? "running" : "ended"})`)
        }
      }
    })

    const tail = Effect.fn("Jobs.tail")(function*(request: TailRequest) {
      const job = yield* find(request.jobId)
      const deadline = Date.now() + request.waitMs
      const wasAwaiting = job.awaitingInput
      const minLines = request.minLines ?? (request.until === undefined ? 1 : Number.POSITIVE_INFINITY)
      let since = request.since
      let matched: Line | null = null
      const collected: Array<Line> = []
      let bytes = 0
      let dropped = 0
      let more = false
      for (;;) {
        const seen = job.changes.version
        const read = job.ring.read({
          since,
          stream: request.stream,
          maxLines: request.maxLines - collected.length,
          maxBytes: Math.max(1, request.maxBytes - bytes)
        })
        dropped += read.dropped
        more = read.more
        for (const line of read.lines) {
          collected.push(line)
          bytes += line.text.length
          if (request.until !== undefined && matched === null && request.until.test(line.text)) {
            matched = line
            break
          }
        }
        since = matched !== null ? matched.n : read.nextLineNo
        if (matched !== null) {
          more = job.ring.lastLineNo > since
          break
        }
        const full = collected.length >= request.maxLines || bytes >= request.maxBytes || more
        const enough = collected.length >= minLines
        const remaining = deadline - Date.now()
        if (full || enough || !job.running || remaining <= 0) break
        if (job.awaitingInput && (!wasAwaiting || collected.length > 0)) break
        const woke = yield* job.changes.changedSince(seen).pipe(Effect.timeoutOption(remaining))
        if (Option.isNone(woke)) {
          // One last read so a line that arrived with the deadline is not left for later.
          continue
        }
        if (job.awaitingInput && !wasAwaiting) {
          // Started waiting for input while we slept: return now with the prompt.
          continue
        }
      }
      return {
        lines: collected,
        nextLineNo: since,
        dropped,
        partial: job.partial,
        more,
        matched,
        job: info(job)
      } satisfies TailResult
    })

    const signal = Effect.fn("Jobs.signal")(function*(jobId: string, sig: SignalName) {
      const job = yield* find(jobId)
      if (!job.running) return { sentViaChannel: false, sentViaPid: false, job: info(job) }
      if (STOPPING.has(sig)) job.endReason = "signal"
      const sentViaChannel = job.process?.signalChannel(sig) ?? false
      const sentViaPid = job.pid === null ? false : yield* groups.signal(job.host, job.pid, sig, job.asRoot)
      if (STOPPING.has(sig)) yield* Deferred.await(job.ended).pipe(Effect.timeoutOption("2 seconds"))
      return { sentViaChannel, sentViaPid, job: info(job) }
    })

    const sendStdin = Effect.fn("Jobs.sendStdin")(function*(
      jobId: string,
      data: string,
      options?: { readonly eof?: boolean; readonly secret?: boolean }
    ) {
      const job = yield* find(jobId)
      const process = job.process
      if (job.persistent) {
        return yield* new InvalidArgumentError({ message: `job_id: '${jobId}' is persistent: it runs detached, with no stdin` })
      }
      if (!job.running || process === undefined) {
        return yield* new JobRunningError({ message: `job '${jobId}' is ${job.status}; its stdin is closed` })
      }
      if (options?.secret === true) job.addMask(data)
      if (data.length > 0) yield* process.write(data)
      if (options?.eof === true) yield* process.endInput()
      job.awaitingInput = false
      return info(job)
    })

    function stop(launched: Launched, reason: EndReason): Effect.Effect<Termination> {
      return Effect.gen(function*() {
        const { job, process } = launched
        if (!job.running || process.done) return "already-exited" as const
        job.endReason = reason
        const how = yield* groups.terminate(job.host, process, job.asRoot)
        // The watcher records the status right after exit; let it run before callers read it.
        yield* Effect.yieldNow
        return how
      })
    }

    /** A persistent job has no channel of ours: TERM, grace, KILL through its process group. */
    const stopPersistent = (job: Job, reason: EndReason) =>
      Effect.gen(function*() {
        if (!job.running || job.pid === null) return "already-exited" as const
        job.endReason = reason
        yield* groups.signal(job.host, job.pid, "TERM")
        const ended = (ms: number) => Effect.map(Deferred.await(job.ended).pipe(Effect.timeoutOption(ms)), Option.isSome)
        if (yield* ended(limits.killGraceMs)) return "term" as const
        yield* groups.signal(job.host, job.pid, "KILL")
        return (yield* ended(5_000)) ? "kill" as const : "abandoned" as const
      })

    const stopJob = (job: Job, reason: EndReason): Effect.Effect<Termination> =>
      job.persistent
        ? stopPersistent(job, reason)
        : job.process === undefined
        ? Effect.succeed("already-exited" as const)
        : stop({ job, process: job.process }, reason)

    const remove = Effect.fn("Jobs.remove")(function*(jobId: string, options?: { readonly force?: boolean }) {
      const job = yield* find(jobId)
      let termination: Termination | null = null
      if (job.running) {
        if (options?.force !== true) {
          return yield* new JobRunningError({
            message: `job '${jobId}' is still running`,
            hint: "pass force: true to stop it (TERM, grace, KILL) and remove it"
          })
        }
        termination = yield* stopJob(job, "removed")
      }
      jobs.delete(jobId)
      if (job.persistent) {
        yield* capture(job.host, removeScript(job.id)).pipe(
          Effect.catch((e) => Effect.logWarning(`could not remove the directory of ${job.id} on ${job.host}: ${e.message}`))
        )
      }
      yield* Effect.promise(() => job.closeLog())
      return { job: info(job), termination }
    })

    const terminateHost = (host: string) =>
      Effect.forEach(
        [...jobs.values()].filter((j) => j.host === host && j.running && !j.persistent),
        (job) => Effect.map(stopJob(job, "disconnect"), (termination) => ({ jobId: job.id, termination })),
        { concurrency: "unbounded" }
      )

    const lines = (jobId: string, options?: { readonly since?: number; readonly stream?: "both" | StreamName }) =>
      Stream.unwrap(Effect.map(find(jobId), (job) =>
        Stream.paginate(options?.since ?? 0, (since: number) =>
          Effect.gen(function*() {
            for (;;) {
              const seen = job.changes.version
              const read = job.ring.read({ since, stream: options?.stream ?? "both", maxLines: 1024, maxBytes: 1 << 20 })
              if (read.lines.length > 0) return [read.lines, Option.some(read.nextLineNo)] as const
              if (!job.running) return [[], Option.none()] as const
              yield* job.changes.changedSince(seen)
            }
          }))))

    const changes = (jobId: string) =>
      Stream.unwrap(Effect.map(find(jobId), (job) =>
        Stream.paginate(0, (seen: number) =>
          job.running
            ? Effect.map(job.changes.changedSince(seen), (v) => [[v], Option.some(v)] as const)
            : Effect.succeed([[job.changes.version], Option.none()] as const))))


    // Reaper: finished jobs are dropped reap_finished_after_sec after they ended.
    yield* Effect.forkScoped(Effect.repeat(
      Effect.gen(function*() {
        const cutoff = Date.now() - limits.reapFinishedAfterSec * 1000
        for (const job of [...jobs.values()]) {
          if (!job.running && job.endedAt !== null && job.endedAt.getTime() <= cutoff) {
            jobs.delete(job.id)
            yield* Effect.promise(() => job.closeLog())
          }
        }
      }),
      Schedule.spaced(`${Math.max(1, Math.min(30, limits.reapFinishedAfterSec))} seconds`)
    ))

    // Shutdown: stop every running non-persistent job, then flush the log mirrors.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const running = [
          ...[...jobs.values()].filter((j) => j.running && !j.persistent).map((job) => ({ job, process: job.process })),
          ...unlisted
        ].filter((l): l is Launched => l.process !== undefined && l.job.running)
        if (running.length > 0) yield* Effect.logInfo(`stopping ${running.length} running command(s)`)
        yield* Effect.forEach(running, (l) => stop(l, "shutdown"), { concurrency: "unbounded", discard: true })
        yield* Effect.forEach([...jobs.values()], (job) => Effect.promise(() => job.closeLog()), { discard: true })
      })
    )

    return Jobs.of({
      spawn,
      launch,
      adopt,
      stop,
      tail,
      signal,
      sendStdin,
      list: (filter) =>
        Effect.map(rediscover, () =>
          [...jobs.values()]
            .filter((j) => (filter?.host === undefined || j.host === filter.host) && (filter?.status === undefined || j.status === filter.status))
            .map(info)
        ),
      get: (jobId) => Effect.map(find(jobId), info),
      remove,
      terminateHost,
      runningCountByHost: Effect.sync(() => {
        const counts = new Map<string, number>()
        for (const j of jobs.values()) if (j.running) counts.set(j.host, (counts.get(j.host) ?? 0) + 1)
        return counts
      }),
      lines,
      changes
    })
  }))
}

/**
 * Compile `until` with RE2 (re2js, a pure JS port: matching is linear in the line's
 * length, so no pattern can stall the event loop) or fail naming the field.
 */
export const compileUntil = (pattern: string | undefined): Effect.Effect<LineMatcher | undefined, InvalidArgumentError> =>
  Effect.suspend(() => {
    if (pattern === undefined) return Effect.succeed(undefined)
    try {
      return Effect.succeed(RE2JS.compile(pattern))
    } catch (e) {
      return Effect.fail(new InvalidArgumentError({
        message: `until: not a regular expression we can run: ${(e as Error).message}`,
        hint: "RE2 syntax: no lookahead/lookbehind or backreferences"
      }))
    }
  })
