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
 * How `dropped` stays exact with bounded memory:
 * - for both streams it is plain arithmetic: of the `lastN − since` lines after
 *   the cursor, those not retained were evicted;
 * - for one stream it needs how many of that stream's lines have n ≤ since, its
 *   "rank". A run log records the job-wide order as checkpoints (n, stdout lines
 *   with number ≤ n), one per switch between stdout and stderr; within a run
 *   (all of one stream) the rank is exact by linear interpolation. The log is
 *   exact over the part of the history that either stream still retains (at
 *   most ~2·maxLines switches, since the stream that reaches further back keeps
 *   all its lines there). Only the part evicted from both streams is compacted,
 *   to at most 2·1024 checkpoints, by merging neighbouring runs. So `dropped`
 *   is exact for every cursor unless the job switched streams more than ~1024
 *   times within that fully evicted part AND the cursor falls inside a merged
 *   block; then it is interpolated, off by less than that block's length, and
 *   always within [0, lines evicted from the stream].
 *
 * @since 0.1.0
 */
import type { StreamChoice, StreamName } from "../domain/jobs.js"
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
/** Checkpoints kept for the history evicted from both streams before compacting. */
const EVICTED_CHECKPOINTS = 1024

/**
 * The job-wide order of streams as checkpoints: `outAt[i]` stdout lines have
 * n ≤ `nAt[i]`; between two checkpoints the lines are all stdout, all stderr
 * (exact) or, after compaction, mixed (interpolated). Starts at (0, 0).
 */
class RunLog {
  nAt: Array<number> = [0]
  outAt: Array<number> = [0]
  nextCheck = EVICTED_CHECKPOINTS

  append(n: number, stdout: boolean): void {
    const nAt = this.nAt
    const outAt = this.outAt
    const last = nAt.length - 1
    // Extend the last run if it ends at n − 1 and is all of this stream.
    if (last > 0 && nAt[last] === n - 1) {
      const runOut = outAt[last]! - outAt[last - 1]!
      if (stdout ? runOut === nAt[last]! - nAt[last - 1]! : runOut === 0) {
        nAt[last] = n
        if (stdout) outAt[last] = outAt[last]! + 1
        return
      }
    }
    nAt.push(n)
    outAt.push(outAt[last]! + (stdout ? 1 : 0))
  }

  /** Appends `count` lines of one stream numbered `last − count + 1 … last` (the job's newest). */
  appendRun(last: number, count: number, stdout: boolean): void {
    if (count === 1) return this.append(last, stdout)
    const nAt = this.nAt
    const outAt = this.outAt
    const end = nAt.length - 1
    const add = stdout ? count : 0
    if (end > 0 && nAt[end] === last - count) {
      const runOut = outAt[end]! - outAt[end - 1]!
      if (stdout ? runOut === nAt[end]! - nAt[end - 1]! : runOut === 0) {
        nAt[end] = last
        outAt[end] = outAt[end]! + add
        return
      }
    }
    nAt.push(last)
    outAt.push(outAt[end]! + add)
  }

  /** Whether `compact` may have work to do (cheap; checked on every eviction). */
  get due(): boolean {
    return this.nAt.length >= this.nextCheck
  }

  /** stdout lines with n ≤ since (since within [0, lastN]). */
  rankStdout(since: number): number {
    const nAt = this.nAt
    const last = nAt.length - 1
    if (since <= 0) return 0
    if (since >= nAt[last]!) return this.outAt[last]!
    let lo = 1
    let hi = last
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (nAt[mid]! >= since) hi = mid
      else lo = mid + 1
    }
    const a = nAt[lo - 1]!
    const b = nAt[lo]!
    const ca = this.outAt[lo - 1]!
    const cb = this.outAt[lo]!
    return ca + Math.round(((cb - ca) * (since - a)) / (b - a))
  }

  /**
   * Bounds the checkpoints at or below `floor` (the history both streams have
   * evicted): keeps every other one, never the last one at or below `floor`,
   * so everything above `floor` stays exact. Amortised O(1) per call.
   */
  compact(floor: number): void {
    const nAt = this.nAt
    // k = number of checkpoints with n ≤ floor (index 0 always counts).
    let lo = 0
    let hi = nAt.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (nAt[mid]! <= floor) lo = mid + 1
      else hi = mid
    }
    const k = lo
    if (k > 2 * EVICTED_CHECKPOINTS) {
      const outAt = this.outAt
      let w = 1
      // Keep index 0, every other checkpoint in 1..k-2, and always k-1.
      for (let r = 2; r < k - 1; r += 2) {
        nAt[w] = nAt[r]!
        outAt[w] = outAt[r]!
        w++
      }
      for (let r = k - 1; r < nAt.length; r++) {
        nAt[w] = nAt[r]!
        outAt[w] = outAt[r]!
        w++
      }
      nAt.length = w
      outAt.length = w
    }
    this.nextCheck = this.nAt.length + EVICTED_CHECKPOINTS
  }
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
    let bytes = 0
    let more = false
    const fits = (b: number): boolean => {
      if (lines.length >= maxLines) return false
      return lines.length === 0 || bytes + b <= maxBytes
    }

    if (opts.stream === "both") {
      const out = this.stores.stdout
      const err = this.stores.stderr
      let i = out.firstAfter(since)
      let j = err.firstAfter(since)
      while (i < out.size || j < err.size) {
        const fromOut = j >= err.size || (i < out.size && out.nAt(i) < err.nAt(j))
        const store = fromOut ? out : err
        const k = fromOut ? i : j
        const b = store.bytesAt(k)
        if (!fits(b)) {
          more = true
          break
        }
        bytes += b
        lines.push({ n: store.nAt(k), stream: fromOut ? "stdout" : "stderr", text: store.textAt(k) })
        if (fromOut) i++
        else j++
      }
    } else {
      const store = this.stores[opts.stream]
      for (let i = store.firstAfter(since); i < store.size; i++) {
        const b = store.bytesAt(i)
        if (!fits(b)) {
          more = true
          break
        }
        bytes += b
        lines.push({ n: store.nAt(i), stream: opts.stream, text: store.textAt(i) })
      }
    }

    const nextLineNo = more ? (lines.length > 0 ? lines[lines.length - 1]!.n : since) : Math.max(since, this.last)
    return { lines, nextLineNo, dropped: this.dropped(since, opts.stream), more }
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
