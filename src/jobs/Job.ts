/**
 * One job's state: its process, its output pipeline (decoder → ring buffer →
 * change signal, log mirror) and its status. The state changes only
 * through these methods; the services around it (src/jobs/) call them.
 * Ingest is plain synchronous code: it runs for every chunk a job prints, reads the
 * time from the `Clock` it was given (a plain method call, as cheap as `Date.now`), and
 * works on bytes: the decoder hands runs of lines to the ring buffer as byte ranges (one
 * copy per run); only masking, when a secret was sent, decodes lines.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Exit } from "effect"
import { LineDecoder, type LineSink } from "../output/LineDecoder.js"
import { type Line, RingBuffer } from "../output/RingBuffer.js"
import { ByteTail } from "../output/ByteTail.js"
import type { AsRoot, EndReason, JobStatus, StreamName } from "../domain/jobs.js"
import type { ExitInfo, RemoteProcess } from "../ssh/RemoteProcess.js"
import type { TmuxTarget } from "../ssh/tmux.js"
import { ChangeSignal } from "./ChangeSignal.js"
import { type LogFile, LogMirror } from "./LogMirror.js"

export interface JobOptions {
  readonly id: string
  readonly host: string
  readonly command: string
  readonly label: string | null
  readonly pty: boolean
  readonly persistent: boolean
  /** Signals must go through sudo (with this password, if any). */
  readonly asRoot?: AsRoot | undefined
  readonly ringBufferLines: number
  readonly ringBufferBytes: number
  readonly maxLineBytes: number
  /** Where timestamps come from (Effect's `Clock`, so tests can use `TestClock`); the default clock if omitted. */
  readonly clock?: Clock.Clock | undefined
  /**
   * A log mirror will be attached (`--log-dir`): collect its text from the first line, so
   * nothing printed while the file is being opened is lost (see LogMirror).
   */
  readonly mirror?: boolean | undefined
  /** When the job started, if not now (a persistent job found on its host). */
  readonly startedAt?: Date | undefined
  /** It runs in (or follows) a tmux pane: its input and screen go through tmux. */
  readonly tmux?: TmuxTarget | undefined
  /** The asciicast file it is recorded to, if any (src/jobs/Recording.ts). */
  readonly recording?: string | undefined
}

/** Sees a job's raw output and input as they pass (a recording). */
export interface JobObserver {
  /** A chunk of output, valid during the call only (a socket read's memory, reused after): copy what you keep. */
  output(stream: StreamName, chunk: Uint8Array): void
  /** What was written to its stdin; secret data never comes here. */
  input(data: string): void
  /** The job has ended (its last output was seen). */
  end(): void
}

/** Raw output kept for a pty job's screen (src/output/TerminalScreen.ts). */
export const SCREEN_TAIL_BYTES = 1024 * 1024

const MASK = "********"
/** While output streams, waiters are woken at most this often. */
const NOTIFY_INTERVAL_MS = 2

export class Job {
  readonly id: string
  readonly host: string
  readonly command: string
  readonly label: string | null
  readonly pty: boolean
  readonly persistent: boolean
  readonly asRoot: AsRoot | undefined
  readonly startedAt: Date
  readonly tmux: TmuxTarget | undefined
  readonly recording: string | undefined
  /** The raw output of a pty job (not a tmux one: tmux holds its screen), for its screen. */
  readonly raw: ByteTail | undefined
  #endedAt: Date | null = null
  #status: JobStatus = "running"
  #exitStatus: number | null = null
  #signal: string | null = null
  #endReason: EndReason | null = null
  #process: RemoteProcess | undefined = undefined
  #remotePid: number | null = null
  #pidGuard: string | undefined
  #awaitingInput = false
  /** The launcher's probe saw a process of the job blocked reading its stdin. */
  #stdinBlocked = false
  readonly ring: RingBuffer
  readonly changes = new ChangeSignal()
  /** Completes once the job has ended and its status is recorded. */
  readonly ended: Deferred.Deferred<void> = Deferred.makeUnsafe()
  /** Bytes of each stream already read: where a persistent job's follower resumes. */
  readonly offsets = { stdout: 0, stderr: 0 }
  private readonly clock: Clock.Clock
  private readonly decoders: Record<StreamName, LineDecoder>
  private readonly sinks: Record<StreamName, LineSink>
  private readonly mirror: LogMirror
  private masks: Array<string> = []
  private observers: Array<JobObserver> = []
  private lastOutputAt: number
  private readonly one = new Int32Array(1)

  constructor(options: JobOptions) {
    this.id = options.id
    this.host = options.host
    this.command = options.command
    this.label = options.label
    this.pty = options.pty
    this.persistent = options.persistent
    this.asRoot = options.asRoot
    this.tmux = options.tmux
    this.recording = options.recording
    this.raw = options.pty && options.tmux === undefined ? new ByteTail(SCREEN_TAIL_BYTES) : undefined
    this.clock = options.clock ?? Clock.Clock.defaultValue()
    this.mirror = new LogMirror({ pending: options.mirror === true })
    this.lastOutputAt = this.clock.currentTimeMillisUnsafe()
    this.startedAt = options.startedAt ?? new Date(this.lastOutputAt)
    this.ring = new RingBuffer({ maxLines: options.ringBufferLines, maxBytes: options.ringBufferBytes })
    this.decoders = {
      stdout: new LineDecoder({ maxLineBytes: options.maxLineBytes }),
      stderr: new LineDecoder({ maxLineBytes: options.maxLineBytes })
    }
    this.sinks = {
      stdout: (src, from, ends, count) => this.appendLines("stdout", src, from, ends, count),
      stderr: (src, from, ends, count) => this.appendLines("stderr", src, from, ends, count)
    }
  }

  /** The newest complete line (exec progress shows it). */
  get lastLine(): Line | undefined {
    return this.ring.newest()
  }

  get running(): boolean {
    return this.status === "running"
  }

  /** Still on its host: running, or detached (found again after its connection died). */
  get alive(): boolean {
    return this.#status === "running" || this.#status === "detached"
  }

  get status(): JobStatus {
    return this.#status
  }

  get endedAt(): Date | null {
    return this.#endedAt
  }

  get exitStatus(): number | null {
    return this.#exitStatus
  }

  get signal(): string | null {
    return this.#signal
  }

  /** Set when we stopped the job, so it is reported as killed with the reason. */
  get endReason(): EndReason | null {
    return this.#endReason
  }

  /** The process of ours the job runs in (none for a persistent job). */
  get process(): RemoteProcess | undefined {
    return this.#process
  }

  /**
   * The job waits for input: its partial line looks like a prompt (`watchPrompt`), or a
   * process of it blocks reading stdin (the launcher's probe, also without a pty and with
   * no prompt printed). Only stdin (or output) moves it on.
   */
  get awaitingInput(): boolean {
    return this.#awaitingInput || this.#stdinBlocked
  }

  get pid(): number | null {
    return this.#process?.pid ?? this.#remotePid
  }

  /** Milliseconds since the job last printed anything. */
  get quietForMs(): number {
    return this.clock.currentTimeMillisUnsafe() - this.lastOutputAt
  }

  /** The job runs in `process` (set once, at launch). */
  attachProcess(process: RemoteProcess): void {
    this.#process = process
  }

  /**
   * PID (and process group) of a persistent job, which has no process of ours; `guard`, shell
   * code that succeeds only while the PID still names the job's process, goes before every
   * signal to it.
   */
  setRemotePid(pid: number, guard?: string): void {
    this.#remotePid = pid
    this.#pidGuard = guard
  }

  get pidGuard(): string | undefined {
    return this.#pidGuard
  }

  /** We are stopping the job for `reason`: it will be reported as killed with it. */
  stopping(reason: EndReason): void {
    this.#endReason = reason
  }

  /** Its partial line has been quiet long enough and looks like a prompt. */
  markAwaitingInput(): void {
    if (!this.running || this.#awaitingInput) return
    const was = this.awaitingInput
    this.#awaitingInput = true
    if (!was) this.changes.notify()
  }

  /** The probe says a process of the job blocks reading stdin (true), or none does any more (false). */
  stdinState(blocked: boolean): void {
    if (!blocked) {
      this.#stdinBlocked = false
      return
    }
    if (!this.running || this.#stdinBlocked) return
    const was = this.awaitingInput
    this.#stdinBlocked = true
    if (!was) this.changes.notify()
  }

  /** Something was written to its stdin: it no longer waits at the prompt it showed. Secret data is not passed on. */
  inputSent(data?: string): void {
    this.#awaitingInput = false
    this.#stdinBlocked = false
    if (data !== undefined && data !== "") for (const o of this.observers) o.input(data)
  }

  /** `observer` sees the output from now on (call it before the first chunk to see all). */
  observe(observer: JobObserver): void {
    this.observers.push(observer)
  }

  /** The secrets masked in its output (secret stdin, a sudo password). */
  get secrets(): ReadonlyArray<string> {
    return this.masks
  }

  /** `text` with the job's secrets masked. */
  masked(text: string): string {
    return this.mask(text)
  }

  /** The unterminated line of stdout, else of stderr (masked). */
  get partial(): string {
    const p = this.decoders.stdout.partial || this.decoders.stderr.partial
    return this.mask(p)
  }

  /** Feed a raw chunk of output. Nothing here keeps a view of it: it may be a socket read's memory, reused after. */
  ingest(stream: StreamName, chunk: Uint8Array): void {
    this.lastOutputAt = this.clock.currentTimeMillisUnsafe()
    this.offsets[stream] += chunk.length
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.raw?.push(buf)
    for (const o of this.observers) o.output(stream, buf)
    this.decoders[stream].feed(buf, this.sinks[stream])
    this.mirror.flush()
    if (this.#awaitingInput) this.#awaitingInput = false
    if (this.#stdinBlocked) this.#stdinBlocked = false
    this.queueNotify()
  }

  /**
   * Wakes waiters once for all the chunks of one socket read (a microtask), and while
   * output streams, at most once per NOTIFY_INTERVAL_MS: waking a blocked tail runs its
   * fiber (a read and a new timeout), dearer than ingesting a chunk. Output after a
   * quiet spell wakes them at once. A plain timer, not `Effect.sleep`: this runs per chunk,
   * outside any fiber, and a fiber per wake-up would cost more than the wake-up.
   */
  private queueNotify(): void {
    if (this.notifyQueued) return
    this.notifyQueued = true
    const wait = this.lastNotifyAt + NOTIFY_INTERVAL_MS - performance.now()
    if (wait <= 0) queueMicrotask(this.notifyNow)
    else setTimeout(this.notifyNow, wait)
  }

  private notifyQueued = false
  private lastNotifyAt = -Infinity
  private readonly notifyNow = (): void => {
    this.notifyQueued = false
    this.lastNotifyAt = performance.now()
    this.changes.notify()
  }

  /** Secret text sent to stdin: its echo is masked from now on. */
  addMask(secret: string): void {
    const s = secret.replace(/\r?\n$/, "")
    if (s.length > 0) this.masks.push(s)
  }

  /**
   * The process ended: flush partial lines, record the status, wake waiters. A channel
   * that closed without an exit status or signal from sshd (the connection died) is lost:
   * we do not know how the command ended.
   */
  finish(exit: ExitInfo): void {
    if (!this.running) return
    for (const stream of ["stdout", "stderr"] as const) this.decoders[stream].finish(this.sinks[stream])
    this.mirror.write()
    this.#exitStatus = exit.exitStatus
    this.#signal = exit.signal
    this.#status = exit.signal !== null || (this.#endReason !== null && exit.exitStatus !== 0)
      ? "killed"
      : exit.exitStatus !== null
      ? "exited"
      : "lost"
    if (this.#status === "lost") this.#endReason ??= "connection_lost"
    this.#endedAt = new Date(this.clock.currentTimeMillisUnsafe())
    this.#awaitingInput = false
    this.#stdinBlocked = false
    for (const o of this.observers) o.end()
    Deferred.doneUnsafe(this.ended, Exit.void)
    this.changes.notify()
  }

  /**
   * A lost job was found again on its host by its process group: it runs there still,
   * without us (no output, no stdin); signals reach it through the PID.
   */
  detach(): void {
    if (this.#status !== "lost") return
    this.#status = "detached"
    this.#endedAt = null
    this.changes.notify()
  }

  /**
   * A detached job's process group is gone: `lost` (how it ended is unknown), or `killed`
   * by `signal` when we stopped it (the reason is then ours).
   */
  detachedEnded(stopped?: { readonly signal: string; readonly reason: EndReason }): void {
    if (this.#status !== "detached") return
    this.#status = stopped === undefined ? "lost" : "killed"
    this.#signal = stopped?.signal ?? null
    if (stopped !== undefined) this.#endReason = stopped.reason
    this.#endedAt = new Date(this.clock.currentTimeMillisUnsafe())
    this.changes.notify()
  }

  /**
   * Mirror lines to `log` from now on, starting with every line collected since the job
   * started (with `mirror`), else with the lines the ring still holds.
   */
  attachLog(log: LogFile): void {
    this.mirror.attach(log, () =>
      this.ring.read({ since: 0, stream: "both", maxLines: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER }).lines)
  }

  /** The log mirror has, or will have once attached, every line since the job started (see LogMirror). */
  get mirroredWhole(): boolean {
    return this.mirror.whole
  }

  /** Close the log mirror (flushes it). */
  closeLog(): Promise<void> {
    return this.mirror.close()
  }

  /** Store (masked) and mirror a run of lines from the decoder (`LineSink`). */
  private appendLines(stream: StreamName, src: Buffer, from: number, ends: Int32Array, count: number): void {
    if (this.masks.length > 0) return this.appendMasked(stream, src, from, ends, count)
    this.ring.appendLines(stream, src, from, ends, count)
    if (this.mirror.active) this.mirror.addLines(stream, src, from, ends, count)
  }

  /** Slow path once a secret was sent: each line decoded, masked and re-encoded. */
  private appendMasked(stream: StreamName, src: Buffer, from: number, ends: Int32Array, count: number): void {
    let start = from
    for (let k = 0; k < count; k++) {
      const end = ends[k]!
      const text = src.toString("utf8", start, end - 1)
      const masked = this.mask(text)
      if (masked === text) {
        this.one[0] = end
        this.ring.appendLines(stream, src, start, this.one, 1)
      } else {
        const bytes = Buffer.from(`${masked}\n`, "utf8")
        this.one[0] = bytes.length
        this.ring.appendLines(stream, bytes, 0, this.one, 1)
      }
      if (this.mirror.active) this.mirror.addLine(stream, masked)
      start = end
    }
  }

  private mask(text: string): string {
    if (this.masks.length === 0 || text.length === 0) return text
    let out = text
    for (const m of this.masks) if (out.includes(m)) out = out.split(m).join(MASK)
    return out
  }
}
