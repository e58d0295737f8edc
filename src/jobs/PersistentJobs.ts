/**
 * Persistent jobs: started detached on the host (`setsid nohup`, output in files
 * there), followed from the byte offsets already read (resuming after a reconnect),
 * found again after this server restarts, stopped through their process group.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Layer, Option } from "effect"
import { collect, type CollectOptions, HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import { guarded } from "../ssh/listeners.js"
import { exitScript, followScript, launchBlock, launchScript, listScript, ownProcessGuard, parseList, removeScript } from "../ssh/persistent.js"
import { AppConfig } from "../domain/AppConfig.js"
import { ChannelError, type ConnectFailure, type RemoteOutputTooLargeError } from "../domain/errors.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"
import type { EndReason, Termination } from "../domain/jobs.js"
import { ProcessGroups } from "./ProcessGroups.js"
import type { Job } from "./Job.js"
import { listFound } from "./foundEnded.js"
import { JobStore, type Slot } from "./JobStore.js"
import { untilHostAnswers } from "./hostWait.js"
import { watchPrompt } from "./prompt.js"

export interface PersistentRequest {
  readonly host: string
  readonly command: string
  readonly label?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}

export class PersistentJobs extends Context.Service<PersistentJobs, {
  /** Start `request` detached on its host and list it in place of `slot`. */
  spawn(request: PersistentRequest, slot: Slot): Effect.Effect<Job, ConnectFailure | ChannelError | RemoteOutputTooLargeError>
  /** List the persistent jobs an earlier run of this server left on connected hosts (each host read once). */
  readonly rediscover: Effect.Effect<void>
  /** TERM, grace, KILL on the job's process group. */
  stop(job: Job, reason: EndReason): Effect.Effect<Termination>
  /** Remove the job's directory on its host (a warning when that fails). */
  removeFiles(job: Job): Effect.Effect<void>
}>()("mcp-ssh-live/PersistentJobs") {
  static readonly layer = Layer.effect(PersistentJobs)(Effect.gen(function*() {
    const limits = (yield* AppConfig).limits
    const hosts = yield* RemoteHosts
    const groups = yield* ProcessGroups
    const store = yield* JobStore
    const layerScope = yield* Effect.scope

    /** A helper command of ours on `alias`, its output collected (within the caps of `options`). */
    const capture = (alias: string, command: string, options: CollectOptions) =>
      collect(hosts.exec(alias, command), options)

    /**
     * A channel for the follower. While the host is down (its reconnect failing, or given up)
     * the job goes on over there and its output waits in its files: wait for the host, trying
     * ourselves now and then, for as long as the host is registered. None once it is not.
     */
    const followerChannel = (job: Job) =>
      untilHostAnswers(
        hosts,
        job.host,
        hosts.exec(job.host, followScript(job.id, job.offsets)),
        (e) => Effect.logWarning(`job ${job.id}: cannot reach ${job.host} to follow it (${e.message}); waiting for it`)
      )

    /**
     * Follow a persistent job's files from the offsets already read. When the follower's
     * connection dies the job goes on over there: wait for a reconnect and resume from
     * the offsets, so no byte is lost or read twice.
     */
    const follow = (job: Job) =>
      Effect.gen(function*() {
        for (;;) {
          // One follower channel per pass, closed when the pass ends (or this fiber is interrupted).
          const pass = yield* Effect.scoped(Effect.gen(function*() {
            const channel = yield* followerChannel(job)
            if (Option.isNone(channel)) return undefined
            const ch = channel.value
            return yield* Effect.callback<{ code: number | null; failure: unknown }>((resume) => {
              let exitCode: number | null = null
              let failure: unknown
              // Nothing thrown here may escape into ssh2: it stops following this job.
              const safe = guarded((e) => {
                failure ??= e
                ch.close()
              })
              ch.on("data", safe((d: Buffer) => job.ingest("stdout", d)))
              ch.stderr.on("data", safe((d: Buffer) => job.ingest("stderr", d)))
              ch.on("exit", (c: number | null) => {
                exitCode = typeof c === "number" ? c : null
              })
              ch.on("error", () => {})
              ch.on("close", () => resume(Effect.succeed({ code: exitCode, failure })))
              safe(() => ch.end())()
            })
          }))
          if (pass === undefined) {
            job.finish({ exitStatus: null, signal: null })
            yield* Effect.logWarning(`job ${job.id}: ${job.host} is no longer registered; reported lost (it may still run there)`)
            return
          }
          const { code, failure } = pass
          if (failure !== undefined) {
            job.finish({ exitStatus: null, signal: null })
            yield* Effect.logWarning(`job ${job.id}: stopped following it: ${failure instanceof Error ? failure.message : String(failure)}; reported lost (it may still run on ${job.host})`)
            return
          }
          if (code === null) {
            yield* Effect.logWarning(`job ${job.id}: follower lost with the connection; resuming at ${job.offsets.stdout}+${job.offsets.stderr} bytes`)
            continue
          }
          // The process is gone and its files are read to the end.
          const status = yield* capture(job.host, exitScript(job.id), {
            step: `the exit status of ${job.id} on ${job.host}`,
            maxStdout: HELPER_SMALL_OUTPUT
          }).pipe(Effect.option)
          const text = Option.isSome(status) ? status.value.stdout.trim() : ""
          const exitStatus = /^\d+$/.test(text) ? Number(text) : null
          job.finish(exitStatus === null
            ? { exitStatus: null, signal: job.endReason !== null ? "TERM" : "KILL" }
            : { exitStatus, signal: null })
          yield* Effect.logInfo(`job ${job.id} on ${job.host} ended: ${job.status}${exitStatus !== null ? ` ${exitStatus}` : ""}`)
          return
        }
      })

    /** Follow and watch for prompts until the job ends (or this service closes). */
    const watch = (job: Job) =>
      Effect.forkIn(Effect.raceFirst(follow(job), Effect.andThen(watchPrompt(job), Effect.never)), layerScope)

    const spawn = Effect.fn("PersistentJobs.spawn")(function*(request: PersistentRequest, slot: Slot) {
      const job = store.create({ host: request.host, command: request.command, label: request.label ?? null, pty: false, persistent: true })
      const started = yield* capture(request.host, launchScript(job.id), {
        step: `the start of persistent job ${job.id} on ${request.host}`,
        maxStdout: HELPER_SMALL_OUTPUT,
        stdin: launchBlock({ command: request.command, label: job.label, env: request.env, cwd: request.cwd })
      })
      const pid = /PID:(\d+)/.exec(started.stdout)?.[1]
      if (pid === undefined) {
        return yield* new ChannelError({ message: `could not start the persistent job on ${request.host}: ${started.stderr.trim() || `exit ${started.code}`}` })
      }
      job.setRemotePid(Number(pid), ownProcessGuard(job.id))
      yield* store.add(job, slot)
      yield* watch(job)
      yield* Effect.logInfo(`persistent job ${job.id} started on ${request.host} (pid ${pid}): ${request.command.slice(0, 200)}`)
      return job
    })

    /** Hosts whose persistent job directory was read since this server started. */
    const scanned = new Set<string>()

    const rediscover = Effect.gen(function*() {
      for (const alias of yield* hosts.connected) {
        if (scanned.has(alias)) continue
        scanned.add(alias)
        const listed = yield* capture(alias, listScript(), {
          step: `the listing of persistent jobs on ${alias}`,
          maxStdout: limits.maxListingBytes,
          hint: "many persistent jobs with long commands need a larger max_listing_bytes; otherwise check the remote " +
            "account's shell start-up files (~/.bashrc)"
        }).pipe(
          Effect.tapError((e) => Effect.logWarning(`persistent jobs on ${alias} not listed: ${e.code}: ${e.message}`)),
          Effect.option
        )
        if (Option.isNone(listed)) continue
        const found = parseList(listed.value.stdout).filter((f) => !store.has(f.jobId)).map((f) => {
          const job = store.create({
            id: f.jobId,
            host: alias,
            command: f.command,
            label: f.label,
            pty: false,
            persistent: true,
            startedAt: f.startedAt
          })
          job.setRemotePid(f.pid, ownProcessGuard(job.id))
          return { job, running: f.running }
        })
        yield* listFound({ alias, kind: "persistent job", found, add: (job) => store.add(job), maxJobs: limits.maxJobs, follow, watch })
      }
    })

    /** A persistent job has no channel of ours: TERM, grace, KILL through its process group. */
    const stop = (job: Job, reason: EndReason) =>
      Effect.gen(function*() {
        if (!job.running || job.pid === null) return "already-exited" as const
        job.stopping(reason)
        yield* groups.signal(job.host, job.pid, "TERM", undefined, job.pidGuard)
        const ended = (ms: number) => Effect.map(Deferred.await(job.ended).pipe(Effect.timeoutOption(ms)), Option.isSome)
        if (yield* ended(limits.killGraceMs)) return "term" as const
        yield* groups.signal(job.host, job.pid, "KILL", undefined, job.pidGuard)
        return (yield* ended(5_000)) ? "kill" as const : "abandoned" as const
      })

    const removeFiles = (job: Job) =>
      capture(job.host, removeScript(job.id), { step: `the removal of ${job.id}'s directory on ${job.host}`, maxStdout: HELPER_SMALL_OUTPUT }).pipe(
        Effect.asVoid,
        Effect.catch((e) => Effect.logWarning(`could not remove the directory of ${job.id} on ${job.host}: ${e.message}`))
      )

    return PersistentJobs.of({ spawn, rediscover, stop, removeFiles })
  }))
}
