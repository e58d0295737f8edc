/**
 * A job's log mirror (`--log-dir`): its lines appended to `<log_dir>/<job_id>.log`.
 * Lines are copied into one pending buffer and written in batches (one write per
 * FLUSH_BYTES, or FLUSH_MS after the first pending line), not one write per chunk.
 * A mirror created `pending` collects from the job's first line, so nothing printed
 * while the file is being opened is lost (up to PRE_ATTACH_LIMIT; past it the mirror
 * starts from the lines the ring still holds). A disk slower than the job makes it
 * count lines instead of buffering them past LOG_BACKLOG_LIMIT.
 *
 * Plain synchronous code on the ingest path: the batch timer is a `setTimeout`
 * (unref'd), since an Effect fiber per batch would cost more than the write.
 *
 * @since 0.1.0
 */
import type { StreamName } from "../domain/jobs.js"
import type { Line } from "../output/RingBuffer.js"

/** What the mirror writes to: a `fs.WriteStream` (an interface, so tests can watch the writes). */
export interface LogFile {
  write(text: string | Uint8Array): boolean
  end(done: () => void): unknown
  readonly writableLength: number
  readonly closed: boolean
}

const STDERR_PREFIX = Buffer.from("[stderr] ")
/** Pending log text past this size is written at once, else after FLUSH_MS. */
export const FLUSH_BYTES = 512 * 1024
export const FLUSH_MS = 20
/** A batch's buffer: FLUSH_BYTES and the chunk that crosses it (ssh2's are at most 32 KiB). */
const BATCH_ROOM = FLUSH_BYTES + 64 * 1024
/**
 * Text kept before the log is attached; past it, `attach` falls back to the ring's lines.
 * An `ssh_exec` is listed (and its log attached) only when handed over or kept for its
 * output, so this is how much of an exec the log can have whole (the ring holds 8 MiB of
 * each stream): the exec's reply says whether it does (`whole`).
 */
export const PRE_ATTACH_LIMIT = 16 * 1024 * 1024
/** Past this much unwritten log text (a disk slower than the job), lines are counted, not buffered. */
export const LOG_BACKLOG_LIMIT = 16 * 1024 * 1024

export class LogMirror {
  private log: LogFile | undefined = undefined
  /** Log text not yet written, and its line count. */
  private buf: Buffer = Buffer.allocUnsafe(0)
  private len = 0
  private lines = 0
  /** Lines skipped while the backlog was full. */
  private skipped = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** Collecting text for a log not attached yet. */
  private pending: boolean
  /** Every line since the job started is (or will be) in the log. */
  private complete: boolean

  constructor(options: { readonly pending: boolean }) {
    this.pending = options.pending
    this.complete = options.pending
  }

  /** The log has, or will have once attached, every line since the job started. */
  get whole(): boolean {
    return this.complete
  }

  /** Lines are taken (attached, or collecting until the log is). */
  get active(): boolean {
    return this.log !== undefined || this.pending
  }

  /** A run of decoded lines (`ends` as the decoder gives them); stderr lines get a `[stderr] ` prefix. */
  addLines(stream: StreamName, src: Uint8Array, from: number, ends: ArrayLike<number>, count: number): void {
    this.lines += count
    if (stream === "stdout") return this.copy(src, from, ends[count - 1]!)
    let start = from
    for (let k = 0; k < count; k++) {
      this.copy(STDERR_PREFIX, 0, STDERR_PREFIX.length)
      this.copy(src, start, ends[k]!)
      start = ends[k]!
    }
  }

  /** One line of text (masked output). */
  addLine(stream: StreamName, text: string): void {
    this.lines++
    const line = Buffer.from(`${stream === "stdout" ? "" : "[stderr] "}${text}\n`, "utf8")
    this.copy(line, 0, line.length)
  }

  /** After each chunk: write the batch if it is big enough, else schedule it. */
  flush(): void {
    if (this.lines === 0) return
    if (this.log === undefined) {
      // Not attached yet: keep collecting, up to the limit.
      if (this.len > PRE_ATTACH_LIMIT) {
        this.dropPending()
        this.complete = false
      }
      return
    }
    if (this.len >= FLUSH_BYTES) return this.write()
    if (this.timer === undefined) {
      this.timer = setTimeout(this.write, FLUSH_MS)
      this.timer.unref()
    }
  }

  /**
   * Mirror to `log` from now on, starting with every line collected since the job started
   * (when `pending`), else with `backfill()` (the lines the ring still holds).
   */
  attach(log: LogFile, backfill: () => ReadonlyArray<Line>): void {
    if (this.pending) {
      this.pending = false
      this.log = log
      return this.write()
    }
    this.dropPending()
    this.complete = false
    for (const l of backfill()) log.write(l.stream === "stdout" ? `${l.text}\n` : `[stderr] ${l.text}\n`)
    this.log = log
  }

  /** Write what is pending and close the log. */
  close(): Promise<void> {
    this.write()
    if (this.log === undefined) this.dropPending()
    const log = this.log
    if (log === undefined || log.closed) return Promise.resolve()
    return new Promise((resolve) => void log.end(resolve))
  }

  /** Writes the pending text; past the backlog limit (a disk slower than the job) lines are counted, not buffered. */
  readonly write = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const log = this.log
    const lines = this.lines
    if (log === undefined || lines === 0) return
    const text = this.buf.subarray(0, this.len)
    // The stream keeps `text` until written: the next text goes to a new buffer.
    this.buf = Buffer.allocUnsafe(0)
    this.len = 0
    this.lines = 0
    if (log.writableLength > LOG_BACKLOG_LIMIT) {
      this.skipped += lines
      return
    }
    if (this.skipped > 0) {
      log.write(`[mcp-ssh-live] ${this.skipped} lines not mirrored: the log disk was too slow\n`)
      this.skipped = 0
    }
    log.write(text)
  }

  /** Copies text into the pending buffer (`src` may be reused by the decoder). */
  private copy(src: Uint8Array, from: number, to: number): void {
    const n = to - from
    if (this.len + n > this.buf.length) {
      // An attached log's batch gets room for a whole batch at once: growing it from 16 KiB
      // by doubling copied each batch's text ~6 more times (~a quarter of the mirror's CPU).
      const first = this.log === undefined ? 16 * 1024 : BATCH_ROOM
      const buf = Buffer.allocUnsafe(Math.max(first, (this.len + n) * 2))
      this.buf.copy(buf, 0, 0, this.len)
      this.buf = buf
    }
    this.buf.set(src.subarray(from, to), this.len)
    this.len += n
  }

  /** Stop collecting for a log that is not attached (too much before it was, or none will be). */
  private dropPending(): void {
    this.pending = false
    if (this.log !== undefined) return
    this.buf = Buffer.allocUnsafe(0)
    this.len = 0
    this.lines = 0
  }
}
