/**
 * Run a command and wait for it: `ssh_exec`. It runs as an unlisted job (so
 * timeouts, idle timeouts, sudo and line counting are the jobs' own), with each
 * stream also collected up to a cap (head and tail kept). With `backgroundAfterMs`,
 * a command still running then is handed over as an ordinary job instead of being
 * waited for. Interrupted (MCP cancellation, shutdown) while running, the remote
 * process group gets TERM, a grace period, then KILL.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import { Clock, Context, Effect, Fiber, Layer, Stream } from "effect"
import type { EndReason, JobStatus } from "../domain/jobs.js"
import { CappedOutput } from "../output/CappedOutput.js"
import { jsonCost } from "../output/jsonBudget.js"
import { shareBudget } from "../output/shareBudget.js"
import { AppConfig } from "../domain/AppConfig.js"
import { type JobInfo, Jobs, type SpawnError } from "./Jobs.js"

export interface ExecRequest {
  /** Host alias; the default host when undefined. */
  readonly host?: string | undefined
  readonly command: string
  /** Wall-clock limit; undefined means none. */
  readonly timeoutMs?: number | undefined
  /** Stop the command after this long without output. */
  readonly idleTimeoutMs?: number | undefined
  /**
   * Return with a job id if the command still runs after this long. It takes a job's place
   * before it starts, keeps stdin open for the job, and is handed over at once when it waits
   * at a prompt.
   */
  readonly backgroundAfterMs?: number | undefined
  /**
   * Without `backgroundAfterMs`: hand a command still running after this long over as a job
   * if a place is free then (else wait on); stdin is closed as without a handover. What keeps
   * a call within a client's timeout by default.
   */
  readonly handOverAfterMs?: number | undefined
  /**
   * What stdout and stderr together may cost in a result's JSON (escapes included). Past it
   * each stream keeps whole lines of head and tail within its share, and the command is kept
   * as a job (handed over, or listed as ended) so that the rest can be paged with `ssh_tail`;
   * the marker says how. Undefined: as much as `max_output_bytes` keeps.
   */
  readonly returnBytes?: number | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  /** Written to the command's stdin, which is then closed. */
  readonly stdin?: string | undefined
  readonly pty?: boolean | undefined
  readonly sudo?: boolean | undefined
  /**
   * Where each stream is collected (default: a `CappedOutput` of `max_output_bytes` each): a
   * caller that cuts the output again afterwards (`ExecMany`'s total cap) passes its own.
   */
  readonly output?: { readonly stdout: CappedOutput; readonly stderr: CappedOutput } | undefined
  /** Called with the number of lines so far and the newest one, at most every 250 ms while output flows. */
  readonly onProgress?: ((lines: number, newest: string) => Effect.Effect<void>) | undefined
  /** The job's id (an MCP task's, which is its job's); default: a fresh one. */
  readonly jobId?: string | undefined
  /**
   * List the command as a job once it has run this long (or waits at a prompt), tell
   * `onListed`, then keep waiting for its end and collecting its output: an MCP task, whose
   * job `ssh_tail` / `ssh_signal` reach meanwhile. It takes a job's place from the start and
   * keeps stdin open, as with `backgroundAfterMs`, which it replaces (no handover).
   */
  readonly listAfterMs?: number | undefined
  readonly onListed?: ((job: JobInfo) => Effect.Effect<void>) | undefined
  /** Close stdin at once even if the command may become a job (ssh_exec_many never takes input). */
  readonly closeStdin?: boolean | undefined
}

export interface ExecResult {
  readonly host: string
  /** `running` when handed over to a job (see `jobId`). */
  readonly status: JobStatus
  readonly exitStatus: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly stdoutBytes: number
  readonly stderrBytes: number
  readonly durationMs: number
  readonly timedOut: boolean
  readonly idleTimedOut: boolean
  /** True when either stream was capped. */
  readonly truncated: boolean
  /** The remote shell's PID (also its process group). */
  readonly pid: number | null
  /** Set when the command was handed over to a job. */
  readonly jobId: string | null
  /** Cursor for `ssh_tail` after a handover: the last line number included in the output so far. */
  readonly nextLineNo: number | null
  /** Handed over because the command waits at a prompt (see `prompt`): answer with stdin. */
  readonly awaitingInput: boolean
  /** The prompt text when `awaitingInput`, else null. */
  readonly prompt: string | null
  readonly endReason: EndReason | null
  /** The output was cut to `returnBytes` and the command kept as job `jobId` (ended or not) to page the rest. */
  readonly paged: boolean
}

const PROGRESS_INTERVAL = "250 millis"

/** How a marker tells the agent to page what a cut stream leaves out. */
const route = (jobId: string, stream: "stdout" | "stderr", since: number, held: string) =>
  `ssh_tail job_id ${jobId} stream ${stream} since_line_no ${since} pages them${held}`

export class Exec extends Context.Service<Exec, {
  /**
   * With `backgroundAfterMs` the command may become a job, so it takes a job's place under
   * max_jobs_per_host and max_jobs before it starts (LIMIT_REACHED when there is none).
   */
  run(request: ExecRequest): Effect.Effect<ExecResult, SpawnError>
}>()("mcp-ssh-live/Exec") {
  static readonly layer = Layer.effect(Exec)(Effect.gen(function*() {
    const jobs = yield* Jobs
    const config = yield* AppConfig

    const run = Effect.fn("Exec.run")(function*(request: ExecRequest) {
      const cap = config.limits.maxOutputBytes
      const out = request.output ?? { stdout: new CappedOutput(cap), stderr: new CappedOutput(cap) }
      const started = yield* Clock.currentTimeMillis
      // An MCP task's command is listed, never handed over.
      const listAfter = request.listAfterMs
      const background = listAfter === undefined ? request.backgroundAfterMs : undefined
      const handOverAfter = listAfter ?? background ?? request.handOverAfterMs
      let listed = false

      // The command lives in this scope: closed (a result, a failure, a cancellation) while it
      // still runs, it is stopped unless it was handed over (a listed task's job ends by our signal).
      return yield* Effect.scoped(Effect.gen(function*() {
        const command = yield* jobs.run({
          host: request.host,
          command: request.command,
          env: request.env,
          cwd: request.cwd,
          pty: request.pty,
          sudo: request.sudo,
          timeoutMs: request.timeoutMs,
          idleTimeoutMs: request.idleTimeoutMs,
          onOutput: (stream, chunk) => out[stream].push(chunk),
          mayHandOver: background !== undefined || listAfter !== undefined,
          id: request.jobId
        })
        if (request.stdin !== undefined) yield* command.write(request.stdin)
        // A command handed over to a job keeps stdin open for ssh_send_stdin.
        const stdinOpen = request.stdin === undefined && (background !== undefined || listAfter !== undefined) && request.closeStdin !== true
        if (!stdinOpen) yield* command.endInput
        const onProgress = request.onProgress
        // One progress notification per burst of output, at most every 250 ms.
        const progress = onProgress === undefined ? undefined : yield* Effect.forkChild(
          Stream.runForEach(command.progress, (p) =>
            Effect.andThen(
              onProgress(p.lines, p.newest.length > 200 ? `${p.newest.slice(0, 200)}…` : p.newest),
              Effect.sleep(PROGRESS_INTERVAL)
            ))
        )
        // A command waiting at a prompt is handed over at once: only the agent can answer it
        // (when stdin is still open, which it is after a handover unless `stdin` was given).
        let finished = yield* command.awaitEnd(handOverAfter === undefined ? undefined : {
          timeoutMs: handOverAfter,
          orPrompt: stdinOpen
        })
        if (!finished && listAfter !== undefined) {
          const job = yield* command.list
          listed = true
          if (request.onListed !== undefined) yield* request.onListed(job)
          finished = yield* command.awaitEnd()
        }
        // A handover by default needs a place free now; without one the command is waited for.
        const handed = finished
          ? undefined
          : background !== undefined
          ? yield* command.handOver
          : yield* command.handOver.pipe(
            Effect.catchTag("LimitReachedError", (e) =>
              Effect.andThen(
                Effect.logInfo(`exec on ${command.host} not handed over (${e.message}): waiting for its end`),
                Effect.andThen(command.awaitEnd(), Effect.succeed(undefined))
              ))
          )
        if (progress !== undefined) yield* Fiber.interrupt(progress)
        const job = handed?.job ?? (yield* command.info)
        const full = { stdout: out.stdout.text(), stderr: out.stderr.text() }
        const budget = request.returnBytes
        const over = budget !== undefined && jsonCost(full.stdout) + jsonCost(full.stderr) > budget
        // Past the budget, the output stays reachable as a job's (an ended command is listed too).
        const kept = !over || handed !== undefined || listed ? handed : yield* Effect.option(command.handOver).pipe(
          Effect.map((o) => o._tag === "Some" ? o.value : undefined)
        )
        const keptId = listed ? job.jobId : kept?.job.jobId
        const logged = config.logDir !== undefined && (yield* command.mirroredWhole)
        const shown = over ? yield* cutOutput(out, budget!, keptId, logged) : full
        return {
          host: job.host,
          status: job.status,
          exitStatus: job.exitStatus,
          signal: job.signal,
          stdout: shown.stdout,
          stderr: shown.stderr,
          stdoutBytes: out.stdout.bytes,
          stderrBytes: out.stderr.bytes,
          durationMs: (yield* Clock.currentTimeMillis) - started,
          timedOut: job.endReason === "timeout",
          idleTimedOut: job.endReason === "idle-timeout",
          truncated: over || out.stdout.truncated || out.stderr.truncated,
          pid: job.pid,
          jobId: keptId ?? null,
          nextLineNo: handed === undefined ? null : handed.nextLineNo,
          awaitingInput: handed !== undefined && job.awaitingInput,
          prompt: handed !== undefined ? job.prompt : null,
          endReason: job.endReason,
          paged: over && keptId !== undefined
        } satisfies ExecResult
      }))
    })

    /**
     * Each stream cut to its share of `budget` (JSON bytes): whole lines of head and tail
     * around a marker that says, when the command was kept as `jobId`, how to page what it
     * leaves out with `ssh_tail` (the job's buffer holds the newest lines; --log-dir all).
     */
    const cutOutput = (out: { readonly stdout: CappedOutput; readonly stderr: CappedOutput }, budget: number, jobId: string | undefined, logged: boolean) =>
      Effect.gen(function*() {
        const streams = ["stdout", "stderr"] as const
        const costs = streams.map((s) => jsonCost(out[s].text()))
        const shares = shareBudget(costs, budget)
        const shown = { stdout: "", stderr: "" }
        for (const [i, s] of streams.entries()) {
          const capped = out[s]
          if (costs[i]! <= shares[i]!) {
            shown[s] = capped.text()
            continue
          }
          // The route depends on a line number not known before the cut: leave room for the longest.
          const widest = jobId === undefined ? undefined : route(jobId, s, Number.MAX_SAFE_INTEGER, heldNote(jobId, 1, logged))
          const cap = capped.capWithin(shares[i]!, undefined, widest)
          shown[s] = capped.text(cap, undefined, jobId === undefined ? undefined : yield* routeFor(jobId, s, capped.headLines(cap), logged))
        }
        return shown
      })

    /** The `ssh_tail` call that pages a stream of `jobId` after its first `headLines` lines. */
    const routeFor = (jobId: string, stream: "stdout" | "stderr", headLines: number, logged: boolean) =>
      Effect.gen(function*() {
        if (headLines === 0) return route(jobId, stream, 0, heldNote(jobId, 0, logged))
        const read = yield* Effect.option(jobs.tail({
          jobId, since: 0, waitMs: 0, maxLines: headLines, maxBytes: Number.MAX_SAFE_INTEGER, stream
        }))
        if (read._tag === "None") return route(jobId, stream, 0, "")
        const r = read.value
        // Lines the head shows were evicted already: page from the oldest held.
        if (r.dropped > 0 || r.lines.length < headLines) return route(jobId, stream, 0, heldNote(jobId, Math.max(1, r.dropped), logged))
        return route(jobId, stream, r.lines[r.lines.length - 1]!.n, heldNote(jobId, r.dropped, logged))
      })

    /** Where what the ring no longer holds can be read: the job's log when it has every line. */
    const heldNote = (jobId: string, dropped: number, logged: boolean) =>
      logged
        ? ` (all lines are in ${path.join(config.logDir!, `${jobId}.log`)})`
        : dropped > 0
        ? " (the job holds only its newest lines)"
        : ""

    return Exec.of({ run })
  }))
}
