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
import { Clock, Context, Effect, Fiber, Layer, Stream } from "effect"
import type { EndReason, JobStatus } from "../domain/jobs.js"
import { CappedOutput } from "../output/CappedOutput.js"
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
  /** Return with a job id if the command still runs after this long. */
  readonly backgroundAfterMs?: number | undefined
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
   * job `ssh_tail` / `ssh_signal` reach meanwhile. Stdin stays open, as with `backgroundAfterMs`
   * (which it replaces).
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
}

const PROGRESS_INTERVAL = "250 millis"

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
      const listAfter = request.listAfterMs
      const background = listAfter ?? request.backgroundAfterMs
      let handedOver = false
      let listed = false

      return yield* Effect.acquireUseRelease(
        jobs.run({
          host: request.host,
          command: request.command,
          env: request.env,
          cwd: request.cwd,
          pty: request.pty,
          sudo: request.sudo,
          timeoutMs: request.timeoutMs,
          idleTimeoutMs: request.idleTimeoutMs,
          onOutput: (stream, chunk) => out[stream].push(chunk),
          mayHandOver: background !== undefined,
          id: request.jobId
        }),
        (command) =>
          Effect.gen(function*() {
            if (request.stdin !== undefined) yield* command.write(request.stdin)
            // A command handed over to a job keeps stdin open for ssh_send_stdin.
            const stdinOpen = request.stdin === undefined && background !== undefined && request.closeStdin !== true
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
            let finished = yield* command.awaitEnd(background === undefined ? undefined : {
              timeoutMs: background,
              orPrompt: stdinOpen
            })
            if (!finished && listAfter !== undefined) {
              const job = yield* command.list
              listed = true
              if (request.onListed !== undefined) yield* request.onListed(job)
              finished = yield* command.awaitEnd()
            }
            if (progress !== undefined) yield* Fiber.interrupt(progress)
            const handed = finished ? undefined : yield* command.handOver
            handedOver = handed !== undefined
            const job = handed?.job ?? (yield* command.info)
            return {
              host: job.host,
              status: job.status,
              exitStatus: job.exitStatus,
              signal: job.signal,
              stdout: out.stdout.text(),
              stderr: out.stderr.text(),
              stdoutBytes: out.stdout.bytes,
              stderrBytes: out.stderr.bytes,
              durationMs: (yield* Clock.currentTimeMillis) - started,
              timedOut: job.endReason === "timeout",
              idleTimedOut: job.endReason === "idle-timeout",
              truncated: out.stdout.truncated || out.stderr.truncated,
              pid: job.pid,
              jobId: handed === undefined && !listed ? null : job.jobId,
              nextLineNo: handed === undefined ? null : handed.nextLineNo,
              awaitingInput: handed !== undefined && job.awaitingInput,
              prompt: handed !== undefined ? job.prompt : null,
              endReason: job.endReason
            } satisfies ExecResult
          }),
        // Interrupted (cancelled, shutting down) while the command still runs: stop it (a listed
        // job stays listed, ended by our signal).
        (command) => handedOver ? Effect.void : Effect.asVoid(command.stop(listed ? "signal" : "removed"))
      )
    })

    return Exec.of({ run })
  }))
}
