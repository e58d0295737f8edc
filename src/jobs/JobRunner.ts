/**
 * Starts commands in exec channels as jobs: the wrapper and its launcher, the sudo
 * gate, and the watchers of a running job (its exit, the idle timeout, the deadline,
 * prompt detection). A job's lifetime is a scope of its own: its channel, its watchers,
 * and a finalizer that stops it (TERM → grace → KILL) if it still runs when the scope
 * closes. Its exit watcher (in this service's `FiberSet`) closes it when the job ends, a
 * failed launch at once, and shutdown every job's of ours (listed or not), in parallel.
 *
 * @since 0.1.0
 */
import { env } from "node:process"
import { Context, Deferred, Effect, Exit, FiberSet, Layer, Option, Redacted, Scope } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { readsByCopying } from "../ssh/receiveBuffers.js"
import { RemoteProcess, type Sink } from "../ssh/RemoteProcess.js"
import { commandBlock, wrapCommand } from "../ssh/shell.js"
import { SudoGate, type SudoOutcome } from "../ssh/SudoGate.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"
import {
  type ChannelError,
  type ConnectFailure,
  InvalidArgumentError,
  JobRunningError,
  type RemoteOutputTooLargeError,
  SignalNotDeliveredError,
  SudoAuthError,
  SudoPasswordRequiredError
} from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import type { EndReason, SignalName, Termination } from "../domain/jobs.js"
import { ProcessGroups } from "./ProcessGroups.js"
import type { Job } from "./Job.js"
import { JobStore } from "./JobStore.js"
import { type JobInfo, jobInfo, type OutputSink, type RunRequest, type SignalResult, type SpawnError } from "./model.js"
import { watchPrompt } from "./prompt.js"
import { sudoPassword, sudoPasswordHint } from "./sudoPassword.js"

/** A job started by `launch`, not necessarily listed. */
export interface Launched {
  readonly job: Job
  readonly process: RemoteProcess
  /** Stop passing output to the request's `onOutput` (it was handed over). */
  detachOutput(): void
}

/** How an ended job ended, in a few words. */
const endedAs = (job: Job): string =>
  job.status === "exited" ? `exited ${job.exitStatus}` : job.signal !== null ? `${job.status}, SIG${job.signal}` : job.status

/** Signals after which we report an ended job as killed. */
const STOPPING: ReadonlySet<SignalName> = new Set(["TERM", "KILL", "INT", "HUP", "QUIT"])

export class JobRunner extends Context.Service<JobRunner, {
  /** Start `request` on `host` (not listed: see `JobStore.add`); returns once the command runs. Stopped at shutdown if still running. */
  launch(host: HostEntry, request: RunRequest & { readonly label?: string | undefined }): Effect.Effect<Launched, SpawnError>
  /** TERM, grace, KILL on the job's process group (a detached one's too); the job is reported as killed for `reason`. */
  stop(job: Job, reason: EndReason): Effect.Effect<Termination>
  /**
   * Send `signal` over the job's channel (if it has one) and to its process group (a detached or
   * lost job's through its PID alone); after a stopping signal, wait up to 2 s for the end.
   * Reaching no process is SIGNAL_NOT_DELIVERED; a host that cannot be asked, its error.
   */
  signal(job: Job, signal: SignalName): Effect.Effect<SignalResult, SignalNotDeliveredError | ConnectFailure | ChannelError | RemoteOutputTooLargeError>
  sendStdin(job: Job, data: string, options?: { readonly eof?: boolean; readonly secret?: boolean }): Effect.Effect<JobInfo, JobRunningError | InvalidArgumentError>
}>()("mcp-ssh-live/JobRunner") {
  static readonly layer = Layer.effect(JobRunner)(Effect.gen(function*() {
    const hosts = yield* RemoteHosts
    const loginPasswordForSudo = (yield* AppConfig).sudoWithLoginPassword === true
    const groups = yield* ProcessGroups
    const store = yield* JobStore
    const reapAfterSec = (yield* AppConfig).limits.reapFinishedAfterSec
    const exitWatchers = yield* FiberSet.make()
    // Each job's scope, within this one: closed after the exit watchers are (finalizers run in
    // reverse), the jobs stopped in parallel at shutdown while their watchers still record how.
    const jobScopes = yield* Scope.fork(yield* Effect.scope, "parallel")

    /** A detached job has no channel of ours: TERM, grace, KILL through its process group. */
    const stopDetached = (job: Job, reason: EndReason, pgid: number) =>
      Effect.gen(function*() {
        const how = yield* groups.terminateGroup(job.host, pgid, job.asRoot)
        if (how === "already-exited") job.detachedEnded()
        else if (how !== "abandoned") job.detachedEnded({ signal: how === "term" ? "TERM" : "KILL", reason })
        return how
      })

    const stop = (job: Job, reason: EndReason): Effect.Effect<Termination> =>
      Effect.gen(function*() {
        if (job.status === "detached" && job.pid !== null) return yield* stopDetached(job, reason, job.pid)
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

    /**
     * A listed job whose channel was lost with its connection: once the host is connected
     * again, look its process group up. Still there: it is `detached` (signals reach it through
     * the PID), and checked again (after 1, 2, 4, 8, then every 15 s) until it is gone (then `lost`). Gone: it stays `lost`.
     * Waits for the host as long as the job would be kept; checks nothing once it is removed.
     */
    const recover = (job: Job, pgid: number) =>
      Effect.gen(function*() {
        const listed = () => store.has(job.id)
        for (let waited = 0; job.status === "lost" && listed(); waited += 1) {
          if (waited > reapAfterSec) return
          if (yield* hosts.isConnected(job.host)) {
            const found = yield* groups.alive(job.host, pgid, job.asRoot)
            if (Option.isSome(found)) {
              if (!found.value) return yield* Effect.logInfo(`job ${job.id} on ${job.host}: its process group ${pgid} is gone; it stays lost`)
              job.detach()
              yield* Effect.logWarning(`job ${job.id} on ${job.host}: its connection was lost, its process group ${pgid} still runs there; reported detached`)
            }
          }
          if (job.status === "lost") yield* Effect.sleep("1 second")
        }
        // A job found just before a write that kills it (a broken pipe) goes soon: check again
        // after 1 s, then less and less often, every 15 s at most.
        for (let check = 0; job.status === "detached" && listed(); check++) {
          yield* Effect.sleep(Math.min(15_000, 1000 * 2 ** check))
          if (job.status !== "detached" || !(yield* hosts.isConnected(job.host))) continue
          const found = yield* groups.alive(job.host, pgid, job.asRoot)
          if (Option.isSome(found) && !found.value) {
            job.detachedEnded()
            yield* Effect.logInfo(`detached job ${job.id} on ${job.host} is gone`)
          }
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
        const pgid = job.pid
        if (job.status === "lost" && pgid !== null) yield* FiberSet.run(exitWatchers, recover(job, pgid))
      }).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))

    const sudoFailure = (alias: string, outcome: Exclude<SudoOutcome, { readonly _tag: "Ready" }>) =>
      outcome._tag === "PasswordRequired"
        ? new SudoPasswordRequiredError({
          message: `sudo on ${alias} asks for a password and none is configured`,
          hint: sudoPasswordHint(alias)
        })
        : new SudoAuthError({
          message: `sudo on ${alias} refused: ${outcome.detail === "" ? "wrong password" : outcome.detail}`,
          hint: "check the password (sudo_password_env's variable, or the login password with sudo_with_login_password) and the user's sudo rights"
        })

    const launch = Effect.fn("JobRunner.launch")(function*(
      host: HostEntry,
      request: RunRequest & { readonly label?: string | undefined }
    ) {
      const password = request.sudo === true ? sudoPassword(host, loginPasswordForSudo, env) : undefined
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
      // The job's lifetime: closed by its exit watcher once it has ended.
      const scope = yield* Scope.fork(jobScopes)
      return yield* start(host, request, job, password, scope).pipe(
        Effect.onError((cause) => Effect.andThen(stop(job, "removed"), Scope.close(scope, Exit.failCause(cause))))
      )
    })

    /** The rest of `launch`: open the channel in `scope`, start the watchers, send the command. */
    const start = Effect.fnUntraced(function*(
      host: HostEntry,
      request: RunRequest & { readonly label?: string | undefined },
      job: Job,
      password: Redacted.Redacted<string> | undefined,
      scope: Scope.Closeable
    ) {
      const script = wrapCommand({ sudo: request.sudo, pty: job.pty })
      const block = commandBlock({ command: request.command, env: request.env, cwd: request.cwd })
      const channel = yield* hosts.exec(host.alias, script, { pty: job.pty }).pipe(Scope.provide(scope))
      // Closed while the job still runs (shutdown): stop it before its channel is closed.
      yield* Scope.addFinalizer(scope, Effect.suspend(() => job.running ? Effect.asVoid(stop(job, "shutdown")) : Effect.void))
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
      // Every sink above copies what it keeps of a chunk (the job's line store, screen and
      // recording, the sudo gate, the PID marker's search); a caller's onOutput may keep the
      // chunks themselves (ssh_exec's result), so not while there is one.
      readsByCopying(channel, () => forward === undefined)
      job.attachProcess(process)
      const launched: Launched = {
        job,
        process,
        detachOutput: () => {
          forward = undefined
        }
      }
      yield* FiberSet.run(exitWatchers, watchExit(launched, gate, scope))
      if (request.idleTimeoutMs !== undefined) yield* Effect.forkIn(idleWatch(job, request.idleTimeoutMs), scope)
      if (request.timeoutMs !== undefined) yield* Effect.forkIn(Effect.andThen(Effect.sleep(request.timeoutMs), stop(job, "timeout")), scope)
      yield* Effect.forkIn(watchPrompt(job), scope)
      // The command block goes to the launcher's stdin: at once when nothing else reads or
      // echoes stdin first; with a pty once the terminal is raw (after the PID marker);
      // with sudo once the root shell is in.
      // The probe of a waiting stdin (no pty) starts after the block: its markers come after
      // it, and what comes before (sudo's prompt) is never taken for one.
      const watchStdin = () => job.pty ? undefined : process.watchStdin((blocked) => job.stdinState(blocked))
      if (request.sudo !== true && !job.pty) {
        watchStdin()
        yield* process.write(block)
      }
      // The wrapper prints the PID before anything else: one round trip, so the reply can carry it.
      yield* Deferred.await(process.started).pipe(Effect.timeoutOption("2 seconds"))
      if (request.sudo !== true && job.pty) yield* process.write(block)
      if (gate !== undefined) {
        const outcome = yield* Deferred.await(sudoOutcome).pipe(Effect.onInterrupt(() => Effect.asVoid(stop(job, "removed"))))
        if (outcome._tag !== "Ready") {
          yield* stop(job, "removed")
          return yield* sudoFailure(host.alias, outcome)
        }
        watchStdin()
        yield* process.write(block)
      }
      return launched
    })

    // Shutdown (before the jobs' scopes close and the watchers are interrupted): a detached job's
    // scope closed with its channel, so it is stopped through its process group here.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const detached = (yield* store.all).filter((j) => !j.persistent && j.status === "detached")
        if (detached.length > 0) yield* Effect.logInfo(`stopping ${detached.length} detached command(s)`)
        yield* Effect.forEach(detached, (job) => stop(job, "shutdown"), { concurrency: "unbounded", discard: true })
      })
    )

    /** A detached job, or a lost one that may still run: through its process group only. */
    const signalGroup = Effect.fnUntraced(function*(job: Job, sig: SignalName, pgid: number) {
      // kill(2) "succeeds" on a zombie (a probe not yet reaped): ask first whether a live process is left.
      const found = yield* groups.alive(job.host, pgid, job.asRoot)
      const delivered = Option.isSome(found) && !found.value ? false : yield* groups.send(job.host, pgid, sig, job.asRoot)
      if (!delivered) {
        job.detachedEnded()
        return yield* new SignalNotDeliveredError({
          message: `no process is left in process group ${pgid} of job '${job.id}' on ${job.host}: it ended while its connection was lost`,
          hint: "nothing to stop; ssh_remove_job drops the job"
        })
      }
      // It runs after all: found again.
      job.detach()
      if (STOPPING.has(sig)) {
        for (let i = 0; i < 8; i++) {
          const state = yield* groups.alive(job.host, pgid, job.asRoot)
          if (Option.isSome(state) && !state.value) {
            job.detachedEnded({ signal: sig, reason: "signal" })
            break
          }
          yield* Effect.sleep("250 millis")
        }
      }
      return { sentViaChannel: false, sentViaPid: true, job: jobInfo(job) }
    })

    const signal = Effect.fn("JobRunner.signal")(function*(job: Job, sig: SignalName) {
      const pgid = job.pid
      if (!job.persistent && pgid !== null && (job.status === "detached" || (job.status === "lost" && job.endReason === "connection_lost"))) {
        return yield* signalGroup(job, sig, pgid)
      }
      if (!job.running) {
        return yield* new SignalNotDeliveredError({
          message: `job '${job.id}' has already ended (${endedAs(job)}); nothing was signalled`,
          hint: "ssh_list_jobs shows how it ended"
        })
      }
      if (STOPPING.has(sig)) job.stopping("signal")
      const sentViaChannel = job.process?.signalChannel(sig) ?? false
      // Once the channel request went out, a host we cannot reach for kill does not undo it.
      const sentViaPid = pgid === null
        ? false
        : sentViaChannel
        ? yield* groups.signal(job.host, pgid, sig, job.asRoot, job.pidGuard)
        : yield* groups.send(job.host, pgid, sig, job.asRoot, job.pidGuard)
      if (!sentViaChannel && !sentViaPid) {
        return yield* new SignalNotDeliveredError({
          message: `SIG${sig} reached no process of job '${job.id}' on ${job.host}: neither its channel nor its process group ${pgid ?? "(unknown)"} took it`,
          hint: "the job may just have ended: ssh_list_jobs shows its status"
        })
      }
      if (STOPPING.has(sig)) yield* Deferred.await(job.ended).pipe(Effect.timeoutOption("2 seconds"))
      return { sentViaChannel, sentViaPid, job: jobInfo(job) }
    })

    const sendStdin = Effect.fn("JobRunner.sendStdin")(function*(job: Job, data: string, options?: { readonly eof?: boolean; readonly secret?: boolean }) {
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
