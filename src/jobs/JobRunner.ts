/**
 * Starts commands in exec channels as jobs: the wrapper and its launcher, the sudo
 * gate, and the watchers of a running job (its exit, the idle timeout, the deadline,
 * prompt detection). A job's watchers live in a scope of their own, closed when it
 * ends; its exit watcher in this service's `FiberSet`. At shutdown every running
 * job of ours (listed or not) gets TERM → grace → KILL.
 *
 * @since 0.1.0
 */
import { env } from "node:process"
import { Context, Deferred, Effect, Exit, FiberSet, Layer, Redacted, Scope } from "effect"
import { RemoteProcess, type Sink } from "../ssh/RemoteProcess.js"
import { commandBlock, wrapCommand } from "../ssh/shell.js"
import { SudoGate, type SudoOutcome } from "../ssh/SudoGate.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"
import { InvalidArgumentError, JobRunningError, SudoAuthError, SudoPasswordRequiredError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import type { EndReason, SignalName, Termination } from "../domain/jobs.js"
import { ProcessGroups } from "./ProcessGroups.js"
import type { Job } from "./Job.js"
import { JobStore, type Slot } from "./JobStore.js"
import { type JobInfo, jobInfo, type OutputSink, type RunRequest, type SignalResult, type SpawnError } from "./model.js"
import { watchPrompt } from "./prompt.js"

/** A job started by `launch`, not necessarily listed. */
export interface Launched {
  readonly job: Job
  readonly process: RemoteProcess
  /** Its place under the limits until it is listed or ends. */
  readonly slot: Slot | undefined
  /** Stop passing output to the request's `onOutput` (it was handed over). */
  detachOutput(): void
}

/** Signals after which we report an ended job as killed. */
const STOPPING: ReadonlySet<SignalName> = new Set(["TERM", "KILL", "INT", "HUP", "QUIT"])

export class JobRunner extends Context.Service<JobRunner, {
  /** Start `request` on `host`; `slot` goes with the job until it is listed or ends. Returns once the command runs. */
  launch(host: HostEntry, request: RunRequest & { readonly label?: string | undefined }, slot: Slot | undefined): Effect.Effect<Launched, SpawnError>
  /** TERM, grace, KILL on the job's process group; the job is reported as killed for `reason`. */
  stop(job: Job, reason: EndReason): Effect.Effect<Termination>
  /** Send `signal` over the job's channel (if it has one) and to its process group; after a stopping signal, wait up to 2 s for the end. */
  signal(job: Job, signal: SignalName): Effect.Effect<SignalResult>
  sendStdin(job: Job, data: string, options?: { readonly eof?: boolean; readonly secret?: boolean }): Effect.Effect<JobInfo, JobRunningError | InvalidArgumentError>
}>()("mcp-ssh-live/JobRunner") {
  static readonly layer = Layer.effect(JobRunner)(Effect.gen(function*() {
    const hosts = yield* RemoteHosts
    const groups = yield* ProcessGroups
    const store = yield* JobStore
    const layerScope = yield* Effect.scope
    const exitWatchers = yield* FiberSet.make()
    /** Running jobs not listed (a command run in the foreground): stopped at shutdown too. */
    const unlisted = new Set<Job>()

    const stop = (job: Job, reason: EndReason): Effect.Effect<Termination> =>
      Effect.gen(function*() {
        const process = job.process
        if (!job.running || process === undefined || process.done) return "already-exited" as const
        job.stopping(reason)
        const how = yield* groups.terminate(job.host, process, job.asRoot)
        // The exit watcher records the status right after exit; let it run before callers read it.
        yield* Effect.yieldNow
        return how
      })

    /** Stops the job when it prints nothing for `idleMs`; sleeps, never polls faster than that. */
    const idleWatch = (job: Job, idleMs: number) =>
      Effect.gen(function*() {
        for (;;) {
          const left = idleMs - job.quietForMs
          if (left <= 0) return yield* stop(job, "idle-timeout")
          yield* Effect.sleep(left)
        }
      })

    /** Runs until the process ends: records how, then closes the job's scope (its other watchers). */
    const watchExit = (launched: Launched, gate: SudoGate | undefined, scope: Scope.Closeable) =>
      Effect.gen(function*() {
        const { job, process } = launched
        const exit = yield* Deferred.await(process.exited)
        gate?.ended()
        job.finish(exit)
        yield* Effect.logInfo(`job ${job.id} on ${job.host} ended: ${job.status}` +
          (job.exitStatus !== null ? ` ${job.exitStatus}` : "") + (job.signal !== null ? ` SIG${job.signal}` : ""))
      }).pipe(Effect.ensuring(Effect.andThen(
        Effect.sync(() => unlisted.delete(launched.job)),
        Effect.andThen(store.release(launched.slot), Scope.close(scope, Exit.void))
      )))

    const sudoFailure = (alias: string, outcome: Exclude<SudoOutcome, { readonly _tag: "Ready" }>) =>
      outcome._tag === "PasswordRequired"
        ? new SudoPasswordRequiredError({
          message: `sudo on ${alias} asks for a password and none is configured`,
          hint: `set sudo_password_env for [hosts.${alias}] in the config file (or --sudo-password-env), naming an environment variable that holds it`
        })
        : new SudoAuthError({
          message: `sudo on ${alias} refused: ${outcome.detail === "" ? "wrong password" : outcome.detail}`,
          hint: "check the password in the variable named by sudo_password_env, and the user's sudo rights"
        })

    const launch = Effect.fn("JobRunner.launch")(function*(
      host: HostEntry,
      request: RunRequest & { readonly label?: string | undefined },
      slot: Slot | undefined
    ) {
      const passwordEnv = host.auth.sudoPasswordEnv
      const password = request.sudo === true && passwordEnv !== undefined && env[passwordEnv] !== undefined
        ? Redacted.make(env[passwordEnv])
        : undefined
      const job = store.create({
        ...(request.id !== undefined ? { id: request.id } : {}),
        host: host.alias,
        command: request.command,
        label: request.label ?? null,
        pty: request.pty === true,
        persistent: false,
        asRoot: request.sudo === true ? { password } : undefined,
        record: request.record
      })
      const script = wrapCommand({ sudo: request.sudo, pty: job.pty })
      const block = commandBlock({ command: request.command, env: request.env, cwd: request.cwd })
      const channel = yield* hosts.exec(host.alias, script, { pty: job.pty })
      let forward: OutputSink | undefined = request.onOutput
      const deliver: Sink = (stream, chunk) => {
        job.ingest(stream, chunk)
        if (forward !== undefined) forward(stream, chunk)
      }
      let gate: SudoGate | undefined
      const sudoOutcome = Deferred.makeUnsafe<SudoOutcome>()
      if (request.sudo === true) {
        gate = new SudoGate(
          password === undefined ? undefined : Redacted.value(password),
          (data) => channel.write(data),
          (outcome) => Deferred.doneUnsafe(sudoOutcome, Exit.succeed(outcome)),
          deliver
        )
        if (password !== undefined) job.addMask(Redacted.value(password))
      }
      const process = new RemoteProcess(channel, gate?.sink ?? deliver)
      job.attachProcess(process)
      const launched: Launched = {
        job,
        process,
        slot,
        detachOutput: () => {
          forward = undefined
        }
      }
      unlisted.add(job)
      const scope = yield* Scope.fork(layerScope)
      yield* FiberSet.run(exitWatchers, watchExit(launched, gate, scope))
      if (request.idleTimeoutMs !== undefined) yield* Effect.forkIn(idleWatch(job, request.idleTimeoutMs), scope)
      if (request.timeoutMs !== undefined) yield* Effect.forkIn(Effect.andThen(Effect.sleep(request.timeoutMs), stop(job, "timeout")), scope)
      yield* Effect.forkIn(watchPrompt(job), scope)
      // The command block goes to the launcher's stdin: at once when nothing else reads or
      // echoes stdin first; with a pty once the terminal is raw (after the PID marker);
      // with sudo once the root shell is in.
      if (request.sudo !== true && !job.pty) yield* process.write(block)
      // The wrapper prints the PID before anything else: one round trip, so the reply can carry it.
      yield* Deferred.await(process.started).pipe(Effect.timeoutOption("2 seconds"))
      if (request.sudo !== true && job.pty) yield* process.write(block)
      if (gate !== undefined) {
        const outcome = yield* Deferred.await(sudoOutcome).pipe(Effect.onInterrupt(() => Effect.asVoid(stop(job, "removed"))))
        if (outcome._tag !== "Ready") {
          yield* stop(job, "removed")
          return yield* sudoFailure(host.alias, outcome)
        }
        yield* process.write(block)
      }
      return launched
    })

    // Shutdown (this finalizer runs before the watchers are interrupted): stop every running job of ours.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const listed = (yield* store.all).filter((j) => !j.persistent)
        const running = [...new Set([...listed, ...unlisted])].filter((j) => j.running && j.process !== undefined)
        if (running.length > 0) yield* Effect.logInfo(`stopping ${running.length} running command(s)`)
        yield* Effect.forEach(running, (job) => stop(job, "shutdown"), { concurrency: "unbounded", discard: true })
      })
    )

    const signal = Effect.fn("Jobs.signal")(function*(job: Job, sig: SignalName) {
      if (!job.running) return { sentViaChannel: false, sentViaPid: false, job: jobInfo(job) }
      if (STOPPING.has(sig)) job.stopping("signal")
      const sentViaChannel = job.process?.signalChannel(sig) ?? false
      const sentViaPid = job.pid === null ? false : yield* groups.signal(job.host, job.pid, sig, job.asRoot)
      if (STOPPING.has(sig)) yield* Deferred.await(job.ended).pipe(Effect.timeoutOption("2 seconds"))
      return { sentViaChannel, sentViaPid, job: jobInfo(job) }
    })

    const sendStdin = Effect.fn("Jobs.sendStdin")(function*(job: Job, data: string, options?: { readonly eof?: boolean; readonly secret?: boolean }) {
      const process = job.process
      if (job.persistent) {
        return yield* new InvalidArgumentError({ message: `job_id: '${job.id}' is persistent: it runs detached, with no stdin` })
      }
      if (!job.running || process === undefined) {
        return yield* new JobRunningError({ message: `job '${job.id}' is ${job.status}; its stdin is closed`, jobId: job.id })
      }
      if (options?.secret === true) job.addMask(data)
      if (data.length > 0) yield* process.write(data)
      if (options?.eof === true) yield* process.endInput()
      job.inputSent(options?.secret === true ? undefined : data)
      return jobInfo(job)
    })

    return JobRunner.of({ launch, stop, signal, sendStdin })
  }))
}
