/**
 * A command running in an ssh2 exec channel, started through the wrapper of
 * `shell.ts`: strips the PID marker from stdout and, once the command runs
 * (`watchStdin`), the stdin probe's markers from stderr, hands every chunk to a sink,
 * and records how the process ended.
 *
 * The data path is plain callbacks (hot: millions of chunks); the Effect API is
 * at the edges (waiting for the PID, for the exit). Nothing a listener throws (a sink
 * included) escapes into ssh2: it closes this channel and is kept as `failure`.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit } from "effect"
import type { StreamName } from "../domain/jobs.js"
import type { RemoteChannel } from "./RemoteChannel.js"
import { guarded } from "./listeners.js"
import { PID_MARKER } from "./shell.js"
import { StdinMarkers } from "./StdinMarkers.js"

export type { StreamName }

/** How a process ended, as the SSH channel reported it. */
export interface ExitInfo {
  /** Exit code, or null when killed by a signal or unknown. */
  readonly exitStatus: number | null
  /** Signal name without SIG (e.g. "TERM"), or null. */
  readonly signal: string | null
}

/** Where output goes; with `readsByCopying` on the channel, a chunk is valid during the call only. */
export type Sink = (stream: StreamName, chunk: Buffer) => void

const MARKER = Buffer.from(PID_MARKER)
/** Give up looking for the marker after this much stdout (a login script printed a lot). */
const MARKER_SEARCH_LIMIT = 64 * 1024

export class RemoteProcess {
  /** The remote shell's PID, which is also its process group id; undefined until known or if never printed. */
  pid: number | undefined = undefined
  /** Completes with the PID once the marker is seen (undefined if the channel closed first). */
  readonly started: Deferred.Deferred<number | undefined> = Deferred.makeUnsafe()
  /** Completes when the channel closes: all output has been delivered. */
  readonly exited: Deferred.Deferred<ExitInfo> = Deferred.makeUnsafe()
  private pre: Buffer | undefined = Buffer.alloc(0)
  private exitInfo: ExitInfo = { exitStatus: null, signal: null }
  private inputEnded = false
  /** Set by `watchStdin`: nothing before the command runs is taken for a marker (sudo's prompt is not). */
  private markers: StdinMarkers | undefined = undefined
  private readonly emitStderr = (piece: Buffer) => this.sink("stderr", piece)
  /** What a listener threw, if one did: the channel was closed then (the process ends as lost). */
  failure: unknown = undefined

  constructor(readonly channel: RemoteChannel, public sink: Sink) {
    const safe = guarded((e) => {
      this.failure ??= e
      this.channel.close()
    })
    channel.on("data", safe((chunk: Buffer) => this.onStdout(chunk)))
    channel.stderr.on("data", safe((chunk: Buffer) => {
      if (this.markers === undefined) this.sink("stderr", chunk)
      else this.markers.filter(chunk, this.emitStderr)
    }))
    channel.on("exit", (code: number | null, signal?: string) => {
      this.exitInfo = {
        exitStatus: typeof code === "number" ? code : null,
        signal: typeof signal === "string" ? signal.replace(/^SIG/, "") : null
      }
    })
    channel.on("close", () => {
      try {
        this.flushPre()
        this.markers?.flush(this.emitStderr)
      } catch (e) {
        this.failure ??= e
      }
      Deferred.doneUnsafe(this.started, Exit.succeed(this.pid))
      Deferred.doneUnsafe(this.exited, Exit.succeed(this.failure === undefined ? this.exitInfo : { exitStatus: null, signal: null }))
    })
    // A channel error (e.g. the connection dropped) is followed by close; nothing to do here
    // but keep it from becoming an unhandled 'error' event.
    channel.on("error", () => {})
  }

  /**
   * From now on (call it as the command block is sent: the probe starts after it), take the
   * stdin probe's markers out of stderr and tell `onState` when a process of the command
   * starts (true) or stops (false) waiting on its stdin.
   */
  watchStdin(onState: (blocked: boolean) => void): void {
    this.markers ??= new StdinMarkers(onState)
  }

  get done(): boolean {
    return Deferred.isDoneUnsafe(this.exited)
  }

  private onStdout(chunk: Buffer): void {
    if (this.pre === undefined) return this.sink("stdout", chunk)
    const buf = this.pre.length === 0 ? chunk : Buffer.concat([this.pre, chunk])
    const at = buf.indexOf(MARKER)
    const nl = at < 0 ? -1 : buf.indexOf(0x0a, at)
    if (at >= 0 && nl >= 0) {
      const pid = Number.parseInt(buf.subarray(at + MARKER.length, nl).toString("latin1").trim(), 10)
      this.pid = Number.isSafeInteger(pid) && pid > 1 ? pid : undefined
      this.pre = undefined
      if (at > 0) this.sink("stdout", buf.subarray(0, at))
      if (nl + 1 < buf.length) this.sink("stdout", buf.subarray(nl + 1))
      Deferred.doneUnsafe(this.started, Exit.succeed(this.pid))
      return
    }
    if (buf.length > MARKER_SEARCH_LIMIT) {
      this.pre = buf
      return this.flushPre()
    }
    // A copy: the chunk's memory may be a socket read's, reused once this returns.
    this.pre = buf === chunk ? Buffer.from(chunk) : buf
  }

  private flushPre(): void {
    const pre = this.pre
    this.pre = undefined
    if (pre !== undefined && pre.length > 0) this.sink("stdout", pre)
  }

  /** Write to the process's stdin, respecting the channel's backpressure. */
  write(data: string | Uint8Array): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.inputEnded || this.done) return resume(Effect.void)
      const ok = this.channel.write(data)
      if (ok) return resume(Effect.void)
      this.channel.once("drain", () => resume(Effect.void))
    })
  }

  /** Close the process's stdin (EOF). */
  endInput(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.inputEnded || this.done) return
      this.inputEnded = true
      this.channel.end()
    })
  }

  /** Ask sshd to deliver `signal` to the session's process (OpenSSH ≥ 8.1); false when it could not be sent. */
  signalChannel(signal: string): boolean {
    if (this.done) return false
    try {
      this.channel.signal(signal)
      return true
    } catch {
      return false
    }
  }

  /** Close our side of the channel; the remote process is not affected. */
  close(): void {
    if (!this.done) this.channel.close()
  }
}
