/**
 * What callers hand to `Jobs` and get back: requests, results, a job's reported
 * state, and the checks a request passes before anything is sent.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { RE2JS } from "re2js"
import type { Line } from "../output/RingBuffer.js"
import type { EndReason, JobStatus, StreamName } from "../domain/jobs.js"
import { isEnvName } from "../domain/hosts.js"
import { fieldWithNul } from "../ssh/shell.js"
import {
  type ChannelError,
  type ConnectFailure,
  InvalidArgumentError,
  type LimitReachedError,
  type RemoteOutputTooLargeError,
  type SudoAuthError,
  type SudoPasswordRequiredError,
  type TmuxUnavailableError
} from "../domain/errors.js"
import type { TmuxTarget } from "../ssh/tmux.js"
import type { Job } from "./Job.js"

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
  /** Run as root through `sudo -S`; the password comes from the host's sudo_password_env (or its login password: see sudoPassword.ts). */
  readonly sudo?: boolean | undefined
  /**
   * Run detached on the host (`setsid nohup`, output in ~/.cache/mcp-ssh-live/jobs/<id>/):
   * it survives the connection dropping and this server restarting. No stdin, no pty, no sudo.
   */
  readonly persistent?: boolean | undefined
  /**
   * Run in a tmux session on the host (`mcp-<job_id>`) that a person can attach to; it
   * survives disconnects and server restarts like a persistent job. stdout and stderr merge.
   */
  readonly tmux?: boolean | undefined
  /** Save it as an asciicast v2 recording (the operator's record dir). */
  readonly record?: boolean | undefined
}

/** Receives every chunk of a running command's output, in order, from its first byte; it may keep them (the channel's read buffers are not reused while it is set). */
export type OutputSink = (stream: StreamName, chunk: Buffer) => void

/** A command run in the foreground (`Jobs.run`): not listed until it is handed over. */
export interface RunRequest extends Omit<SpawnRequest, "persistent" | "label" | "tmux"> {
  readonly onOutput?: OutputSink | undefined
  /**
   * The command may be handed over to a listed job: take its place under the limits now,
   * or fail with LIMIT_REACHED before anything starts.
   */
  readonly mayHandOver?: boolean | undefined
  /** The job's id, chosen by the caller (an MCP task's, which is its job's); unique by construction. Default: a fresh one. */
  readonly id?: string | undefined
}

/** Why a job could not be started. */
export type SpawnError =
  | ConnectFailure
  | ChannelError
  | InvalidArgumentError
  | LimitReachedError
  | SudoPasswordRequiredError
  | SudoAuthError
  | TmuxUnavailableError
  | RemoteOutputTooLargeError

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
  /** Set when we stopped it (signal, timeout, idle-timeout, removed, disconnect, shutdown), or connection_lost. */
  readonly endReason: EndReason | null
  /** Whether its host is connected now (filled in by `Jobs`; absent when not looked at). */
  readonly hostConnected?: boolean
  /** It has a terminal (pty, or tmux): it has a screen, and takes keys. */
  readonly pty: boolean
  /** The tmux pane it runs in (a job of ours) or follows (a person's pane). */
  readonly tmux: TmuxTarget | null
  /** The asciicast file it is recorded to. */
  readonly recording: string | null
}

export const jobInfo = (job: Job): JobInfo => {
  const c = job.ring.counts()
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
    // The prompt it printed, if any (a program reading stdin without a terminal often prints none).
    prompt: job.awaitingInput && job.partial !== "" ? job.partial : null,
    endReason: job.endReason,
    pty: job.pty,
    tmux: job.tmux ?? null,
    recording: job.recording ?? null
  }
}

/** A compiled `until` (RE2 semantics: linear time in the line's length). */
export interface LineMatcher {
  /** True when the pattern matches anywhere in `text`. */
  test(text: string): boolean
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
  /** Start at the `last` newest lines of `stream` held when the request comes in, instead of `since`. */
  readonly last?: number | undefined
}

export interface TailResult {
  readonly lines: ReadonlyArray<Line>
  /** The lines' texts joined by "\n", when the store had them so (runs of ASCII text): spares a reply the join. */
  readonly text?: string
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
    isEnvName(name)
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
export const validateRequest = (request: Omit<SpawnRequest, "label"> & { readonly label?: string | undefined }) =>
  Effect.andThen(validateEnv(request.env), () => {
    const field = fieldWithNul({ command: request.command, env: request.env, cwd: request.cwd, label: request.label })
    return field === undefined ? Effect.void : Effect.fail(
      new InvalidArgumentError({
        message: `${field}: contains a NUL byte, which no shell string can carry`,
        hint: "remove the \\0 character; binary data can go to the command's stdin instead"
      })
    )
  })

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
