/**
 * A job's recent output: the last lines of stdout and of stderr, each stream
 * bounded by a line count and a byte count, numbered job-wide (1, 2, 3 … across
 * both streams) so an agent can resume from a cursor.
 *
 * Lines are kept as bytes, not objects: per stream, a circular byte buffer holds
 * the lines' UTF-8 text back to back, each followed by `\n`, and circular typed
 * arrays hold each line's number and end offset. A run of lines from the decoder
 * is appended with one copy; strings are decoded only for the lines a read
 * returns. Memory per stream is bounded: at most `maxLines` line records and
 * `maxBytes` of text (plus one `\n` per line), except that the newest line is
 * always kept (the decoder caps it at `max_line_bytes` and the marker); the byte
 * buffer grows by doubling, so it stays within twice that.
 *
 * Reads locate the cursor by binary search and report exactly how many lines
 * after the cursor were evicted before the agent could read them.
 *
 * How `dropped` stays exact with bounded memory: for both streams it is plain
 * arithmetic; for one stream it needs the job-wide order of the streams, which the
 * `RunLog` keeps (see RunLog.ts).
 *
 * @since 0.1.0
 */
import type { StreamChoice, StreamName } from "../domain/jobs.js"
import { RunLog } from "./RunLog.js"
import { StreamStore } from "./StreamStore.js"

export interface Line {
  readonly n: number
  readonly stream: StreamName
  readonly text: string
}

export interface RingBufferOptions {
  /** Lines kept per stream (callers default to 10000). */
  readonly maxLines: number
  /** UTF-8 bytes of line text kept per stream (e.g. 8 MiB); the newest line is kept even if larger. */
  readonly maxBytes: number
}

export interface ReadOptions {
  /** The agent's cursor: lines with n > since are returned (0 = from the start). */
  readonly since: number
  readonly stream: StreamChoice
  /** At most this many lines (0 returns none). */
  readonly maxLines: number
  /** At most this many bytes of text, except that one line is always returned if any is available. */
  readonly maxBytes: number
}

export interface ReadResult {
  readonly lines: Array<Line>
  /** UTF-8 bytes of the lines' text. */
  readonly bytes: number
  /** The lines' texts joined by "\n", when the read had them so at no cost (ASCII runs). */
  readonly text?: string
  /** The cursor for the next read: nothing the requested stream(s) still hold past it was skipped. */
  readonly nextLineNo: number
  /** Lines with n > since of the requested stream(s) that were evicted before this read. */
  readonly dropped: number
  /** True when the caps cut the reply: more lines are available now. */
  readonly more: boolean
}

export interface RingCounts {
  readonly stdout: number
  readonly stderr: number
  readonly total: number
  readonly dropped: { readonly stdout: number; readonly stderr: number }
}
export class RingBuffer {
  private readonly stores: Record<StreamName, StreamStore>
  private readonly log = new RunLog()
  private last = 0
  private readonly one = new Int32Array(1)

  constructor(options: RingBufferOptions) {
    const maxLines = Math.max(1, Math.floor(options.maxLines))
    const maxBytes = Math.max(0, options.maxBytes)
    this.stores = { stdout: new StreamStore(maxLines, maxBytes), stderr: new StreamStore(maxLines, maxBytes) }
  }

  /** The n of the newest line appended (0 if none). */
  get lastLineNo(): number {
    return this.last
  }

  /** Bytes held for line data (records and text) by both streams: what the bounds limit. */
  get retainedBytes(): number {
    return this.stores.stdout.retainedBytes + this.stores.stderr.retainedBytes
  }

  /**
   * Appends `count` lines to `stream` (the decoder's `LineSink` shape): `src[from,
   * ends[count − 1])`, each line ended by `\n`, valid UTF-8. Numbered with the
   * job-wide next numbers; the stream's oldest lines are evicted to stay within
   * `maxLines` and `maxBytes`.
   */
  appendLines(stream: StreamName, src: Uint8Array, from: number, ends: ArrayLike<number>, count: number): void {
    if (count === 0) return
    const firstN = this.last + 1
    this.last += count
    this.stores[stream].append(src, from, ends, count, firstN)
    const log = this.log
    log.appendRun(this.last, count, stream === "stdout")
    if (log.due) log.compact(Math.min(this.stores.stdout.oldestN, this.stores.stderr.oldestN) - 1)
  }

  /** Appends one line of text (no terminator in it) to `stream`. */
  append(stream: StreamName, text: string): Line {
    const bytes = Buffer.from(`${text}\n`, "utf8")
    this.one[0] = bytes.length
    this.appendLines(stream, bytes, 0, this.one, 1)
    return { n: this.last, stream, text: bytes.toString("utf8", 0, bytes.length - 1) }
  }

  /** The newest line of either stream, if any. */
  newest(): Line | undefined {
    const out = this.stores.stdout
    const err = this.stores.stderr
    if (out.size === 0 && err.size === 0) return undefined
    const stream: StreamName = out.newestN > err.newestN ? "stdout" : "stderr"
    const store = this.stores[stream]
    return { n: store.newestN, stream, text: store.textAt(store.size - 1) }
  }

  /** Lines with n > since, in n order, capped by `maxLines` and `maxBytes`. */
  read(opts: ReadOptions): ReadResult {
    const since = Math.max(0, Math.floor(opts.since))
    const maxLines = Math.max(0, Math.floor(opts.maxLines))
    const maxBytes = opts.maxBytes
    const lines: Array<Line> = []
    let taken = 0
    let bytes = 0
    let more = false
    let text: string | undefined
    const fits = (b: number): boolean => {
      if (taken >= maxLines) return false
      return taken === 0 || bytes + b <= maxBytes
    }

    if (opts.stream === "both") {
      const out = this.stores.stdout
      const err = this.stores.stderr
      let i = out.firstAfter(since)
      let j = err.firstAfter(since)
      // Lines are taken in runs of one stream, each decoded at once.
      let runOut = true
      let runFrom = i
      let runCount = 0
      // The runs' texts, while each came decoded whole.
      let runs: Array<string> | undefined = []
      const flush = () => {
        if (runCount === 0) return
        const run = (runOut ? out : err).linesInto(lines, runFrom, runCount, runOut ? "stdout" : "stderr")
        if (run === undefined) runs = undefined
        else runs?.push(run)
      }
      while (i < out.size || j < err.size) {
        const fromOut = j >= err.size || (i < out.size && out.nAt(i) < err.nAt(j))
        const store = fromOut ? out : err
        const k = fromOut ? i : j
        const b = store.bytesAt(k)
        if (!fits(b)) {
          more = true
          break
        }
        if (fromOut !== runOut) {
          flush()
          runOut = fromOut
          runFrom = k
          runCount = 0
        }
        runCount++
        taken++
        bytes += b
        if (fromOut) i++
        else j++
      }
      flush()
      text = runs?.join("\n")
    } else {
      const store = this.stores[opts.stream]
      const first = store.firstAfter(since)
      for (let i = first; i < store.size; i++) {
        const b = store.bytesAt(i)
        if (!fits(b)) {
          more = true
          break
        }
        taken++
        bytes += b
      }
      text = taken === 0 ? "" : store.linesInto(lines, first, taken, opts.stream)
    }

    const nextLineNo = more ? (lines.length > 0 ? lines[lines.length - 1]!.n : since) : Math.max(since, this.last)
    return { lines, bytes, ...(text === undefined ? {} : { text }), nextLineNo, dropped: this.dropped(since, opts.stream), more }
  }

  /**
   * The cursor from which a read returns the `count` newest lines of `stream` (both: of the
   * job, as numbered); 0 when fewer are held, so the read reports the evicted ones as dropped.
   */
  sinceForLast(stream: StreamChoice, count: number): number {
    const k = Math.max(0, Math.floor(count))
    if (stream === "both") return Math.max(0, this.last - k)
    if (k === 0) return this.last
    const store = this.stores[stream]
    return k > store.size ? 0 : store.nAt(store.size - k) - 1
  }

  /** Lines appended ever per stream, and evicted ever. */
  counts(): RingCounts {
    const out = this.stores.stdout
    const err = this.stores.stderr
    return {
      stdout: out.appended,
      stderr: err.appended,
      total: out.appended + err.appended,
      dropped: { stdout: out.evicted, stderr: err.evicted }
    }
  }

  /** Evicted lines with n > since of the given stream(s). */
  private dropped(since: number, stream: StreamChoice): number {
    if (since >= this.last) return 0
    if (stream === "both") {
      const out = this.stores.stdout
      const err = this.stores.stderr
      if (out.evicted + err.evicted === 0) return 0
      const retained = out.size - out.firstAfter(since) + err.size - err.firstAfter(since)
      return this.last - since - retained
    }
    const store = this.stores[stream]
    // The stream's evicted lines are exactly its lines with n < its oldest retained n.
    if (store.evicted === 0 || since >= store.oldestN - 1) return 0
    const out = this.log.rankStdout(since)
    const rank = stream === "stdout" ? out : since - out
    return Math.min(store.evicted, Math.max(0, store.evicted - rank))
  }
}
