/**
 * Collect a helper command's whole output from an exec channel (small commands of ours:
 * kill, cat, a listing, a hash — not user commands, which go through Exec with caps).
 *
 * Whatever the host prints is bounded: stdout to the cap the caller gives for its step,
 * stderr to `HELPER_STDERR_MAX`. Past either, the channel is closed and the call fails with
 * REMOTE_OUTPUT_TOO_LARGE naming the step, instead of a hostile host (or an honest huge
 * tree) filling memory until a string cannot hold it. Our listeners never let an exception
 * escape into ssh2 (it would be uncaught there and end the process): it fails this call.
 * The channel is a scoped resource (`Connections.exec`): it is opened and closed within this
 * call, so a timeout or an interruption around it leaves no channel open on the host.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { ChannelError, RemoteOutputTooLargeError } from "../domain/errors.js"
import { guarded } from "./listeners.js"
import type { RemoteChannel } from "./RemoteChannel.js"

export interface Collected {
  readonly stdout: string
  readonly stderr: string
  /** null when the channel closed without an exit status (e.g. the connection died). */
  readonly code: number | null
}

/** Stderr a helper may print: it is only ever quoted (cut short) in an error. */
export const HELPER_STDERR_MAX = 1024 * 1024

/** Stdout of a helper that prints a line or nothing (a PID, an exit code, "tar-ok", one digest). */
export const HELPER_SMALL_OUTPUT = 64 * 1024

export interface CollectOptions {
  /** What the command is for, as an error names it: "the directory listing (find) of /srv/www". */
  readonly step: string
  /** Most bytes of stdout; more fails the call with REMOTE_OUTPUT_TOO_LARGE. */
  readonly maxStdout: number
  /** What to do about it, when the cap was passed (default: check the host's shell start-up files). */
  readonly hint?: string | undefined
  /** Written to the command's stdin, which is then closed. */
  readonly stdin?: string | undefined
}

/** 1048576 → "1 MiB", 65536 → "64 KiB", 1000 → "1000 bytes". */
export const formatBytes = (n: number): string =>
  n >= 1024 * 1024 && n % (1024 * 1024) === 0
    ? `${n / (1024 * 1024)} MiB`
    : n >= 1024 && n % 1024 === 0
    ? `${n / 1024} KiB`
    : `${n} bytes`

const defaultHint = "a helper command printed far more than it should: check the remote account's shell start-up files " +
  "(~/.bashrc must print nothing when the shell is not interactive) and what its PATH finds for find, tar, openssl and sha256sum"

/** The error for `step`'s `stream` passing `cap`. */
export const tooLarge = (step: string, stream: "stdout" | "stderr", cap: number, hint?: string): RemoteOutputTooLargeError =>
  new RemoteOutputTooLargeError({
    message: `${step} printed more than ${formatBytes(cap)} on ${stream}; stopped reading it`,
    hint: hint ?? defaultHint
  })

/**
 * Chunks kept up to `max` bytes: `push` says false (and keeps nothing more) once they would
 * pass it, so a caller stops at the first byte over.
 */
export class BoundedChunks {
  private readonly parts: Array<Buffer> = []
  private size = 0
  constructor(readonly max: number) {}
  push(chunk: Buffer): boolean {
    if (this.size + chunk.length > this.max) return false
    this.parts.push(chunk)
    this.size += chunk.length
    return true
  }
  text(): string {
    return Buffer.concat(this.parts, this.size).toString("utf8")
  }
}

/** Open `channel` (closed again when this ends), run it to its end and collect what it printed. */
export const collect = <E, R>(
  channel: Effect.Effect<RemoteChannel, E, R>,
  options: CollectOptions
): Effect.Effect<Collected, E | RemoteOutputTooLargeError | ChannelError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.flatMap(channel, (ch) => collectFrom(ch, options)))

const collectFrom = (channel: RemoteChannel, options: CollectOptions): Effect.Effect<Collected, RemoteOutputTooLargeError | ChannelError> =>
  Effect.callback<Collected, RemoteOutputTooLargeError | ChannelError>((resume) => {
    const out = new BoundedChunks(options.maxStdout)
    const err = new BoundedChunks(HELPER_STDERR_MAX)
    let code: number | null = null
    let failed = false
    const fail = (e: RemoteOutputTooLargeError | ChannelError) => {
      if (failed) return
      failed = true
      channel.close()
      resume(Effect.fail(e))
    }
    const safe = guarded((e) => fail(new ChannelError({ message: `${options.step}: ${e instanceof Error ? e.message : String(e)}` })))
    channel.on("data", safe((d: Buffer) => {
      if (!failed && !out.push(d)) fail(tooLarge(options.step, "stdout", options.maxStdout, options.hint))
    }))
    channel.stderr.on("data", safe((d: Buffer) => {
      if (!failed && !err.push(d)) fail(tooLarge(options.step, "stderr", HELPER_STDERR_MAX, options.hint))
    }))
    channel.on("exit", safe((c: number | null) => {
      code = typeof c === "number" ? c : null
    }))
    channel.on("error", () => {})
    channel.on("close", safe(() => {
      if (!failed) resume(Effect.succeed({ stdout: out.text(), stderr: err.text(), code }))
    }))
    safe(() => channel.end(options.stdin ?? ""))()
    // Interrupted (a timeout, a cancelled call): the command is not waited for.
    return Effect.sync(() => channel.close())
  })
