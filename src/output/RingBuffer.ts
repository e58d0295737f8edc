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

const INITIAL_LINES = 256
const INITIAL_BYTES = 4096

/**
 * One stream's lines. Offsets are logical (they only grow); `ends[i]` is one past
 * line i's `\n`, and a line starts where the previous one ended (the oldest at `lo`).
 * Byte at logical offset o lives at `(o − origin) % buf.length`.
 */
class StreamStore {
  nums: Float64Array
  ends: Float64Array
  capacity: number
  /** Physical index of the oldest line record. */
  start = 0
  size = 0
  buf: Buffer = Buffer.alloc(0)
  origin = 0
  /** Logical start of the oldest retained line, and end of the newest (lo === hi when empty). */
  lo = 0
  hi = 0
  /** Text bytes retained (without the `\n`s). */
  textBytes = 0
  appended = 0
  evicted = 0

  constructor(readonly maxLines: number, readonly maxBytes: number) {
    this.capacity = Math.min(maxLines, INITIAL_LINES)
    this.nums = new Float64Array(this.capacity)
    this.ends = new Float64Array(this.capacity)
  }

  private phys(i: number): number {
    const p = this.start + i
    return p < this.capacity ? p : p - this.capacity
  }

  /** n of the line at logical index i (0 = oldest). */
  nAt(i: number): number {
    return this.nums[this.phys(i)]!
  }

  /** Logical start offset of line i. */
  startAt(i: number): number {
    return i === 0 ? this.lo : this.ends[this.phys(i - 1)]!
  }

  /** Text bytes of line i. */
  bytesAt(i: number): number {
    return this.ends[this.phys(i)]! - this.startAt(i) - 1
  }

  textAt(i: number): string {
    const from = this.startAt(i)
    return this.decode(from, this.ends[this.phys(i)]! - 1)
  }

  /** n of the oldest retained line (Infinity if none). */
  get oldestN(): number {
    return this.size === 0 ? Infinity : this.nums[this.start]!
  }

  get newestN(): number {
    return this.size === 0 ? 0 : this.nAt(this.size - 1)
  }

  /** Logical index of the first line with n > since (size if none). */
  firstAfter(since: number): number {
    let lo = 0
    let hi = this.size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.nAt(mid) > since) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Bytes held by this stream: line records and text buffer. */
  get retainedBytes(): number {
    return this.nums.byteLength + this.ends.byteLength + this.buf.length
  }

  /**
   * Appends the `count` lines of `src[from, ends[count − 1])` (each ended by `\n`),
   * numbered `firstN …`, evicting the oldest lines to stay within the bounds.
   */
  append(src: Uint8Array, from: number, ends: ArrayLike<number>, count: number, firstN: number): void {
    const hi0 = this.hi
    const base = hi0 - from
    const end = base + ends[count - 1]!
    // Lines evicted one by one as each arrives leave the longest suffix of the stream that
    // fits both bounds (or the newest line alone); computed for the whole run at once.
    let skip = 0
    let runBytes = end - hi0 - count
    if (count > this.maxLines || runBytes > this.maxBytes) {
      // Not even the whole run fits: everything older goes, and the run's own first lines.
      skip = Math.max(0, count - this.maxLines)
      let startK = skip === 0 ? hi0 : base + ends[skip - 1]!
      runBytes = end - startK - (count - skip)
      while (skip < count - 1 && runBytes > this.maxBytes) {
        const next = base + ends[skip]!
        runBytes -= next - startK - 1
        startK = next
        skip++
      }
      this.evicted += this.size + skip
      this.size = 0
      this.start = 0
      this.textBytes = 0
      this.lo = skip === 0 ? hi0 : base + ends[skip - 1]!
    } else {
      const over = this.size + count - this.maxLines
      if (over > 0) this.evictOldest(over)
      while (this.size > 0 && this.textBytes + runBytes > this.maxBytes) this.evictOldest(1)
    }
    const kept = count - skip
    while (this.size + kept > this.capacity) this.grow()
    const nums = this.nums
    const lineEnds = this.ends
    const cap = this.capacity
    let p = this.phys(this.size)
    for (let k = skip; k < count; k++) {
      nums[p] = firstN + k
      lineEnds[p] = base + ends[k]!
      if (++p === cap) p = 0
    }
    this.size += kept
    this.textBytes += runBytes
    this.hi = end
    this.appended += count
    const keepFrom = this.lo
    const live = end - keepFrom
    if (live > this.buf.length) this.reserve(live, hi0)
    const copyFrom = Math.max(keepFrom, hi0)
    this.copyIn(src, from + (copyFrom - hi0), copyFrom, end - copyFrom)
  }

  /** Evicts the `k` oldest lines (1 ≤ k ≤ size). */
  private evictOldest(k: number): void {
    const last = this.phys(k - 1)
    const end = this.ends[last]!
    this.textBytes -= end - this.lo - k
    this.lo = end
    this.start = last + 1 === this.capacity ? 0 : last + 1
    this.size -= k
    this.evicted += k
  }

  private grow(): void {
    const capacity = Math.min(this.maxLines, this.capacity * 2)
    const nums = new Float64Array(capacity)
    const ends = new Float64Array(capacity)
    for (let i = 0; i < this.size; i++) {
      const p = this.phys(i)
      nums[i] = this.nums[p]!
      ends[i] = this.ends[p]!
    }
    this.nums = nums
    this.ends = ends
    this.capacity = capacity
    this.start = 0
  }

  /** A larger byte buffer holding the retained bytes older than `oldHi`, re-based at `lo`. */
  private reserve(live: number, oldHi: number): void {
    const old = this.buf
    const buf = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, live, old.length * 2))
    const keep = Math.max(0, oldHi - this.lo)
    if (keep > 0) {
      const p = (this.lo - this.origin) % old.length
      const first = Math.min(keep, old.length - p)
      old.copy(buf, 0, p, p + first)
      if (keep > first) old.copy(buf, first, 0, keep - first)
    }
    this.buf = buf
    this.origin = this.lo
  }

  private copyIn(src: Uint8Array, srcFrom: number, at: number, n: number): void {
    if (n <= 0) return
    const buf = this.buf
    const p = (at - this.origin) % buf.length
    const first = Math.min(n, buf.length - p)
    buf.set(src.subarray(srcFrom, srcFrom + first), p)
    if (n > first) buf.set(src.subarray(srcFrom + first, srcFrom + n), 0)
  }

  /** The text of logical bytes [from, to). */
  private decode(from: number, to: number): string {
    if (to <= from) return ""
    const buf = this.buf
    const p = (from - this.origin) % buf.length
    const n = to - from
    if (p + n <= buf.length) return buf.toString("utf8", p, p + n)
    return Buffer.concat([buf.subarray(p), buf.subarray(0, n - (buf.length - p))]).toString("utf8")
  }
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
