/**
 * Jobs in tmux on the host (src/ssh/tmux.ts has the scripts and why they are shaped so):
 * jobs of ours a person can attach to, and panes of a person's that the agent follows.
 * Their output is followed from the byte offset already read (resuming after a reconnect;
 * our jobs also after this server restarts), their input is typed through tmux, and their
 * screen is tmux's own.
 *
 * A job of ours outlives this server (found again like a persistent job) and goes with its
 * session when it is removed or its host disconnected. A followed pane is the person's:
 * removing the job, disconnecting the host or stopping this server only stops following it.
 *
 * @since 0.4.0
 */
import { randomBytes } from "node:crypto"
import { Context, Deferred, Effect, Layer, Option } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { ChannelError, type ConnectFailure, InvalidArgumentError, JobRunningError, type RemoteOutputTooLargeError, TmuxUnavailableError } from "../domain/errors.js"
import type { EndReason, Termination } from "../domain/jobs.js"
import { EndMarker } from "../output/EndMarker.js"
import type { ScreenSnapshot } from "../output/TerminalScreen.js"
import { collect } from "../ssh/collect.js"
import { guarded } from "../ssh/listeners.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"
import {
  captureScript,
  endMarker,
  exitScript,
  followPaneScript,
  followScript,
  inputScript,
  launchBlock,
  launchScript,
  listPanesScript,
  listScript,
  NO_PANE,
  NO_TMUX,
  type Pane,
  PANE_PIPED,
  parseList,
  parsePanes,
  removeScript,
  sessionName,
  SOCKET,
  tmuxProcessGuard,
  type TmuxTarget
} from "../ssh/tmux.js"
import { shellQuote } from "../ssh/shell.js"
import type { Job } from "./Job.js"
import { JobStore, type Slot } from "./JobStore.js"
import { ProcessGroups } from "./ProcessGroups.js"
import { type Found, listFound } from "./foundEnded.js"
import { untilHostAnswers } from "./hostWait.js"
import { watchPrompt } from "./prompt.js"

export interface TmuxRequest {
  readonly host: string
  readonly command: string
  readonly label?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly record?: boolean | undefined
}

export type TmuxError = ConnectFailure | ChannelError | TmuxUnavailableError | RemoteOutputTooLargeError

/** Follower retries after its process ended without the end marker (bytes still on their way through tmux). */
const LATE_READS = 3

export class TmuxJobs extends Context.Service<TmuxJobs, {
  /** Start `request` in a tmux session of its own on its host and list it in place of `slot`. */
  spawn(request: TmuxRequest, slot: Slot): Effect.Effect<Job, TmuxError>
  /** Follow the pane `target` of the host's default tmux server as a job, in place of `slot`. */
  followPane(host: string, target: string, label: string | undefined, slot: Slot): Effect.Effect<Job, TmuxError | InvalidArgumentError>
  /** The panes of the host's default tmux server. */
  panes(host: string): Effect.Effect<ReadonlyArray<Pane>, TmuxError>
  /** List our tmux jobs an earlier run of this server left on connected hosts (each host read once). */
  readonly rediscover: Effect.Effect<void>
  /** A job of ours: TERM, grace, KILL on the command's process group. A followed pane: stop following. */
  stop(job: Job, reason: EndReason): Effect.Effect<Termination>
  /** Remove the job's session (or our pipe on the pane) and its directory on the host. */
  removeFiles(job: Job): Effect.Effect<void>
  /** Type `data` (a newline is Enter) then `keys` (tmux key names) into the job's pane; `eof` sends C-d. */
  send(job: Job, input: { readonly data: string; readonly keys: ReadonlyArray<string>; readonly eof: boolean }): Effect.Effect<void, JobRunningError | ChannelError | ConnectFailure | RemoteOutputTooLargeError>
  /** What the pane shows now (tmux's own screen). */
  capture(job: Job): Effect.Effect<ScreenSnapshot, ChannelError | ConnectFailure | InvalidArgumentError | RemoteOutputTooLargeError>
}>()("mcp-ssh-live/TmuxJobs") {
  static readonly layer = Layer.effect(TmuxJobs)(Effect.gen(function*() {
    const limits = (yield* AppConfig).limits
    const hosts = yield* RemoteHosts
    const groups = yield* ProcessGroups
    const store = yield* JobStore
    const layerScope = yield* Effect.scope
    /** Nonces of our jobs' end markers. */
    const nonces = new WeakMap<Job, string>()

    /** A tmux helper of ours on `alias`, its output collected (at most max_listing_bytes: a job listing, a screen). */
    const capture = (alias: string, command: string, stdin?: string) =>
      collect(hosts.exec(alias, command), { step: `a tmux helper on ${alias}`, maxStdout: limits.maxListingBytes, stdin })

    const noTmux = (alias: string) =>
      new TmuxUnavailableError({
        message: `tmux is not installed on ${alias}`,
        hint: "install it there (Debian/Ubuntu: apt install tmux), or run the command without tmux (pty: true for a terminal)"
      })

    const newId = () => {
      for (;;) {
        const id = `job-${randomBytes(4).toString("hex")}`
        if (!store.has(id)) return id
      }
    }

    /** One pass of the follower: the bytes from the offset read until its writer is gone (or our marker). */
    const followOnce = (job: Job, marker: EndMarker | undefined) =>
      Effect.scoped(Effect.flatMap(
        hosts.exec(job.host, followScript(job.id, job.offsets.stdout, job.tmux?.session === undefined ? "pane" : "job")),
        (ch) =>
          Effect.callback<"ended" | "lost">((resume) => {
            let exited = false
            // Called from ssh2's parser: a throw here closes this follower (lost), never the process.
            ch.on("data", guarded(() => ch.close())((d: Buffer) => {
              const out = marker === undefined ? d : marker.push(d)
              if (out.length > 0) job.ingest("stdout", out)
              if (marker?.found === true) ch.close()
            }))
            ch.stderr.on("data", () => {})
            ch.on("exit", () => {
              exited = true
            })
            ch.on("error", () => {})
            ch.on("close", () => resume(Effect.succeed(exited || marker?.found === true ? "ended" : "lost")))
            ch.end()
          })
      ))

    /**
     * Follow until the job is over: our marker read (a job), or the writer gone (the pane
     * closed, or we stopped following). A dropped connection resumes from the offset.
     */
    const follow = (job: Job) =>
      Effect.gen(function*() {
        const nonce = nonces.get(job)
        let late = 0
        for (;;) {
          const marker = nonce === undefined ? undefined : new EndMarker(endMarker(nonce))
          // The host down: the job goes on in its session and its output waits in its file.
          const pass = yield* untilHostAnswers(
            hosts,
            job.host,
            followOnce(job, marker),
            (e) => Effect.logWarning(`job ${job.id}: cannot reach ${job.host} to follow it (${e.message}); waiting for it`)
          )
          if (Option.isNone(pass)) {
            job.finish({ exitStatus: null, signal: null })
            yield* Effect.logWarning(`job ${job.id}: ${job.host} is no longer registered; reported lost (it may still run there)`)
            return
          }
          if (pass.value === "lost") {
            yield* Effect.logWarning(`job ${job.id}: follower lost with the connection; resuming at ${job.offsets.stdout} bytes`)
            continue
          }
          // The writer is gone; a job's last bytes may still be on their way from tmux to the file.
          if (marker !== undefined && !marker.found && late++ < LATE_READS) {
            yield* Effect.sleep("300 millis")
            continue
          }
          if (job.tmux?.session === undefined) {
            job.finish({ exitStatus: null, signal: null })
            yield* Effect.logInfo(`job ${job.id}: ${job.endReason === null ? "the pane closed" : "no longer following the pane"}`)
            return
          }
          const status = yield* capture(job.host, exitScript(job.id)).pipe(Effect.option)
          const text = Option.isSome(status) ? status.value.stdout.trim() : ""
          const exitStatus = /^\d+$/.test(text) ? Number(text) : null
          job.finish({ exitStatus, signal: null })
          yield* Effect.logInfo(`job ${job.id} on ${job.host} ended: ${job.status}${exitStatus !== null ? ` ${exitStatus}` : ""}`)
          return
        }
      })

    const watch = (job: Job) =>
      Effect.forkIn(Effect.raceFirst(follow(job), Effect.andThen(watchPrompt(job), Effect.never)), layerScope)

    const field = (text: string, key: string) => new RegExp(`(?:^|\\s)${key}:(\\S+)`).exec(text)?.[1]

    const spawn = Effect.fn("TmuxJobs.spawn")(function*(request: TmuxRequest, slot: Slot) {
      const id = newId()
      const nonce = randomBytes(8).toString("hex")
      const started = yield* capture(request.host, launchScript(id), launchBlock({
        command: request.command,
        label: request.label ?? null,
        nonce,
        env: request.env,
        cwd: request.cwd
      }))
      if (started.code === NO_TMUX) return yield* noTmux(request.host)
      const pid = field(started.stdout, "PID")
      const pane = field(started.stdout, "PANE")
      if (started.code !== 0 || pid === undefined || pane === undefined) {
        return yield* new ChannelError({ message: `could not start the tmux job on ${request.host}: ${started.stderr.trim() || `exit ${started.code}`}` })
      }
      const target: TmuxTarget = { socket: SOCKET, session: sessionName(id), pane }
      const job = store.create({
        id,
        host: request.host,
        command: request.command,
        label: request.label ?? null,
        pty: true,
        persistent: true,
        tmux: target,
        record: request.record
      })
      job.setRemotePid(Number(pid), tmuxProcessGuard(id))
      nonces.set(job, nonce)
      yield* store.add(job, slot)
      yield* watch(job)
      yield* Effect.logInfo(`tmux job ${job.id} started on ${request.host} (pid ${pid}): ${request.command.slice(0, 200)}`)
      return job
    })

    const followPane = Effect.fn("TmuxJobs.followPane")(function*(host: string, target: string, label: string | undefined, slot: Slot) {
      const id = newId()
      const r = yield* capture(host, followPaneScript(id, target), `l=${shellQuote(label ?? "")}`)
      if (r.code === NO_TMUX) return yield* noTmux(host)
      if (r.code === NO_PANE) {
        return yield* new InvalidArgumentError({
          message: `target: no tmux pane '${target}' on ${host} (${r.stderr.trim().split("\n")[0] ?? ""})`,
          hint: "ssh_list_panes lists the panes of the host's tmux server"
        })
      }
      if (r.code === PANE_PIPED) {
        return yield* new InvalidArgumentError({
          message: `target: the pane '${target}' on ${host} already has a pipe-pane of its own`,
          hint: "only one pipe per pane: ask the user to close theirs (tmux pipe-pane with no command)"
        })
      }
      const pane = field(r.stdout, "PANE")
      const pid = field(r.stdout, "PID")
      if (r.code !== 0 || pane === undefined) {
        return yield* new ChannelError({ message: `could not follow the pane on ${host}: ${r.stderr.trim() || `exit ${r.code}`}` })
      }
      const job = store.create({
        id,
        host,
        command: `tmux pane ${target}`,
        label: label ?? null,
        pty: true,
        persistent: false,
        tmux: { socket: undefined, session: undefined, pane }
      })
      if (pid !== undefined) job.setRemotePid(Number(pid))
      yield* store.add(job, slot)
      yield* watch(job)
      yield* Effect.logInfo(`following tmux pane ${target} (${pane}) on ${host} as ${job.id}`)
      return job
    })

    const panes = (host: string) =>
      Effect.gen(function*() {
        const r = yield* capture(host, listPanesScript())
        if (r.code === NO_TMUX) return yield* noTmux(host)
        return parsePanes(r.stdout)
      })

    const scanned = new Set<string>()
    const rediscover = Effect.gen(function*() {
      for (const alias of yield* hosts.connected) {
        if (scanned.has(alias)) continue
        scanned.add(alias)
        const listed = yield* capture(alias, listScript()).pipe(Effect.option)
        if (Option.isNone(listed)) continue
        const jobs: Array<Found> = []
        for (const found of parseList(listed.value.stdout)) {
          if (store.has(found.jobId)) continue
          // A pane an earlier run followed and could not let go of (it stopped abruptly): let go now.
          if (found.kind === "pane") {
            yield* capture(alias, removeScript(found.jobId, { socket: undefined, session: undefined, pane: found.pane })).pipe(Effect.ignore)
            continue
          }
          const job = store.create({
            id: found.jobId,
            host: alias,
            command: found.command,
            label: found.label,
            pty: true,
            persistent: true,
            startedAt: found.startedAt,
            tmux: { socket: SOCKET, session: sessionName(found.jobId), pane: found.pane }
          })
          if (found.pid !== null) job.setRemotePid(found.pid, tmuxProcessGuard(found.jobId))
          nonces.set(job, found.nonce)
          jobs.push({ job, running: found.running })
        }
        yield* listFound({ alias, kind: "tmux job", found: jobs, add: (job) => store.add(job), maxJobs: limits.maxJobs, follow, watch })
      }
    })

    const ended = (job: Job, ms: number) => Effect.map(Deferred.await(job.ended).pipe(Effect.timeoutOption(ms)), Option.isSome)

    const unfollow = (job: Job) => capture(job.host, removeScript(job.id, job.tmux!)).pipe(Effect.ignore)

    const stop = (job: Job, reason: EndReason) =>
      Effect.gen(function*() {
        if (!job.running) return "already-exited" as const
        job.stopping(reason)
        if (job.tmux?.session === undefined) {
          // The pane is the person's: only our pipe goes (the follower then ends).
          yield* unfollow(job)
          return (yield* ended(job, 5_000)) ? "term" as const : "abandoned" as const
        }
        if (job.pid === null) return "abandoned" as const
        yield* groups.signal(job.host, job.pid, "TERM", undefined, job.pidGuard)
        if (yield* ended(job, limits.killGraceMs)) return "term" as const
        yield* groups.signal(job.host, job.pid, "KILL", undefined, job.pidGuard)
        return (yield* ended(job, 5_000)) ? "kill" as const : "abandoned" as const
      })

    const removeFiles = (job: Job) =>
      job.tmux === undefined ? Effect.void : capture(job.host, removeScript(job.id, job.tmux)).pipe(
        Effect.asVoid,
        Effect.catch((e) => Effect.logWarning(`could not remove the tmux session of ${job.id} on ${job.host}: ${e.message}`))
      )

    const send = (job: Job, input: { readonly data: string; readonly keys: ReadonlyArray<string>; readonly eof: boolean }) =>
      Effect.gen(function*() {
        if (!job.running || job.tmux === undefined) {
          return yield* new JobRunningError({ message: `job '${job.id}' is ${job.status}; its pane takes no input`, jobId: job.id })
        }
        const keys = input.eof ? [...input.keys, "C-d"] : input.keys
        const r = yield* capture(job.host, inputScript(job.id, job.tmux, input.data !== "", keys), input.data)
        if (r.code !== 0) {
          return yield* new ChannelError({ message: `tmux could not type into ${job.tmux.pane} on ${job.host}: ${r.stderr.trim() || `exit ${r.code}`}` })
        }
      })

    const captureScreen = (job: Job) =>
      Effect.gen(function*() {
        if (job.tmux === undefined) return yield* new InvalidArgumentError({ message: `job_id: '${job.id}' does not run in tmux` })
        const r = yield* capture(job.host, captureScript(job.tmux))
        const [head, ...rows] = r.stdout.split("\n")
        const [x, y, w, h] = (head ?? "").trim().split(" ").map(Number)
        if (r.code !== 0 || w === undefined || h === undefined || !Number.isInteger(w) || !Number.isInteger(h)) {
          return yield* new ChannelError({
            message: `the pane of job '${job.id}' is gone on ${job.host} (${r.stderr.trim() || `exit ${r.code}`})`,
            hint: "the session was closed on the host; ssh_tail still has its output"
          })
        }
        const lines = Array.from({ length: h }, (_, i) => (rows[i] ?? "").trimEnd())
        return { cols: w, rows: h, lines, cursor: { row: y ?? 0, col: x ?? 0 }, applicationCursor: false } satisfies ScreenSnapshot
      })

    // Shutdown: the person's panes are let go (our jobs go on, to be found again).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const followed = (yield* store.all).filter((j) => j.tmux !== undefined && j.tmux.session === undefined && j.running)
        yield* Effect.forEach(followed, (job) => Effect.andThen(Effect.sync(() => job.stopping("shutdown")), unfollow(job)), {
          concurrency: "unbounded",
          discard: true
        })
      }).pipe(Effect.timeoutOption("10 seconds"), Effect.asVoid)
    )

    return TmuxJobs.of({ spawn, followPane, panes, rediscover, stop, removeFiles, send, capture: captureScreen })
  }))
}
