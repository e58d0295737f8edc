/**
 * One job's state: its process, its output pipeline (decoder → ring buffer →
 * change signal, optional log mirror) and its status. The state changes only
 * through these methods; the services around it (src/jobs/) call them.
 * Ingest is plain synchronous code: it runs for every chunk a job prints, and reads
 * the time from the `Clock` it was given (a plain method call, as cheap as `Date.now`).
 *
 * @since 0.1.0
 */
import type * as fs from "node:fs"
import { Clock, Deferred, Exit } from "effect"
import { LineDecoder } from "../output/LineDecoder.js"
import { type Line, RingBuffer } from "../output/RingBuffer.js"
import type { AsRoot, EndReason, JobStatus, StreamName } from "../domain/jobs.js"
import type { ExitInfo, RemoteProcess } from "../ssh/RemoteProcess.js"
import { ChangeSignal } from "./ChangeSignal.js"

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
  /** When the job started, if not now (a persistent job found on its host). */
  readonly startedAt?: Date | undefined
}

const MASK = "********"
/** Past this much unwritten log text (a disk slower than the job), lines are counted, not buffered. */
const LOG_BACKLOG_LIMIT = 16 * 1024 * 1024

export class Job {
  readonly id: string
  readonly host: string
  readonly command: string
  readonly label: string | null
  readonly pty: boolean
  readonly persistent: boolean
  readonly asRoot: AsRoot | undefined
  readonly startedAt: Date
  #endedAt: Date | null = null
  #status: JobStatus = "running"
  #exitStatus: number | null = null
  #signal: string | null = null
  #endReason: EndReason | null = null
  #process: RemoteProcess | undefined = undefined
  #remotePid: number | null = null
  #awaitingInput = false
  readonly ring: RingBuffer
  readonly changes = new ChangeSignal()
  /** Completes once the job has ended and its status is recorded. */
  readonly ended: Deferred.Deferred<void> = Deferred.makeUnsafe()
  /** Bytes of each stream already read: where a persistent job's follower resumes. */
  readonly offsets = { stdout: 0, stderr: 0 }
  private readonly clock: Clock.Clock
  private readonly decoders: Record<StreamName, LineDecoder>
  private log: fs.WriteStream | undefined = undefined
  /** The newest complete line (exec progress shows it). */
  lastLine: Line | undefined = undefined
  private masks: Array<string> = []
  /** Lines the log mirror skipped while its backlog was full. */
  private logSkipped = 0
  private lastOutputAt: number

  constructor(options: JobOptions) {
    this.id = options.id
    this.host = options.host
    this.command = options.command
    this.label = options.label
    this.pty = options.pty
    this.persistent = options.persistent
    this.asRoot = options.asRoot
    this.clock = options.clock ?? Clock.Clock.defaultValue()
    this.lastOutputAt = this.clock.currentTimeMillisUnsafe()
    this.startedAt = options.startedAt ?? new Date(this.lastOutputAt)
    this.ring = new RingBuffer({ maxLines: options.ringBufferLines, maxBytes: options.ringBufferBytes })
    this.decoders = {
      stdout: new LineDecoder({ maxLineBytes: options.maxLineBytes }),
      stderr: new LineDecoder({ maxLineBytes: options.maxLineBytes })
    }
  }

  get running(): boolean {
    return this.status === "running"
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

  /** The job waits at a prompt (see `watchPrompt`): only stdin moves it on. */
  get awaitingInput(): boolean {
    return this.#awaitingInput
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

  /** PID (and process group) of a persistent job, which has no process of ours. */
  setRemotePid(pid: number): void {
    this.#remotePid = pid
  }

  /** We are stopping the job for `reason`: it will be reported as killed with it. */
  stopping(reason: EndReason): void {
    this.#endReason = reason
  }

  /** Its partial line has been quiet long enough and looks like a prompt. */
  markAwaitingInput(): void {
    if (!this.running || this.#awaitingInput) return
    this.#awaitingInput = true
    this.changes.notify()
  }

  /** Something was written to its stdin: it no longer waits at the prompt it showed. */
  inputSent(): void {
    this.#awaitingInput = false
  }

  /** The unterminated line of stdout, else of stderr (masked). */
  get partial(): string {
    const p = this.decoders.stdout.partial || this.decoders.stderr.partial
    return this.mask(p)
  }

  /** Feed a raw chunk of output. */
  ingest(stream: StreamName, chunk: Uint8Array): void {
    this.lastOutputAt = this.clock.currentTimeMillisUnsafe()
    this.offsets[stream] += chunk.length
    this.appendAll(stream, this.decoders[stream].push(chunk))
    if (this.#awaitingInput) this.#awaitingInput = false
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
    for (const stream of ["stdout", "stderr"] as const) this.appendAll(stream, this.decoders[stream].end())
    this.#exitStatus = exit.exitStatus
    this.#signal = exit.signal
    this.#status = exit.signal !== null || (this.#endReason !== null && exit.exitStatus !== 0)
      ? "killed"
      : exit.exitStatus !== null
      ? "exited"
      : "lost"
    this.#endedAt = new Date(this.clock.currentTimeMillisUnsafe())
    this.#awaitingInput = false
    Deferred.doneUnsafe(this.ended, Exit.void)
    this.changes.notify()
  }

  /** Mirror lines to `log` from now on, starting with the lines the ring still holds. */
  attachLog(log: fs.WriteStream): void {
    const { lines } = this.ring.read({ since: 0, stream: "both", maxLines: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER })
    for (const l of lines) log.write(l.stream === "stdout" ? `${l.text}\n` : `[stderr] ${l.text}\n`)
    this.log = log
  }

  /** Close the log mirror (flushes it). */
  closeLog(): Promise<void> {
    const log = this.log
    if (log === undefined || log.closed) return Promise.resolve()
    return new Promise((resolve) => log.end(resolve))
  }

  /** Number, store and mirror a chunk's lines; the log mirror gets one write per chunk, not per line. */
  private appendAll(stream: StreamName, lines: ReadonlyArray<string>): void {
    if (lines.length === 0) return
    const prefix = stream === "stdout" ? "" : "[stderr] "
    let mirror = ""
    for (let i = 0; i < lines.length; i++) {
      const text = this.mask(lines[i]!)
      this.lastLine = this.ring.append(stream, text)
      if (this.log !== undefined) mirror += `${prefix}${text}\n`
    }
    const log = this.log
    if (log === undefined) return
    if (log.writableLength > LOG_BACKLOG_LIMIT) {
      this.logSkipped += lines.length
      return
    }
    if (this.logSkipped > 0) {
      mirror = `[mcp-ssh-live] ${this.logSkipped} lines not mirrored: the log disk was too slow\n${mirror}`
      this.logSkipped = 0
    }
    log.write(mirror)
  }

  private mask(text: string): string {
    if (this.masks.length === 0 || text.length === 0) return text
    let out = text
    for (const m of this.masks) if (out.includes(m)) out = out.split(m).join(MASK)
    return out
  }
}
