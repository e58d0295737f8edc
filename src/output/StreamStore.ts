/**
 * One stream's byte store for RingBuffer: a circular byte buffer of the lines'
 * UTF-8 text and circular typed arrays of each line's number and end offset
 * (see RingBuffer.ts for the whole design).
 *
 * @since 0.1.0
 */

import { isAscii } from "node:buffer"
import type { StreamName } from "../domain/jobs.js"

const INITIAL_LINES = 256
const INITIAL_BYTES = 4096

/**
 * One stream's lines. Offsets are logical (they only grow); `ends[i]` is one past
 * line i's `\n`, and a line starts where the previous one ended (the oldest at `lo`).
 * Byte at logical offset o lives at `(o − origin) % buf.length`.
 */
export class StreamStore {
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

  /**
   * Appends to `out` the `count` lines from logical index `i`, as lines of `stream`, and
   * returns their texts joined by "\n" when that came for free: a run of ASCII text is decoded
   * as one string, each line a slice of it (V8 shares the memory of slices of 13 characters or
   * more), one decode instead of one per line. A line kept keeps its run's memory alive: one
   * read's worth at most.
   */
  linesInto(out: Array<{ readonly n: number; readonly stream: StreamName; readonly text: string }>, i: number, count: number, stream: StreamName): string | undefined {
    if (count <= 0) return undefined
    const from = this.startAt(i)
    const run = this.asciiText(from, this.ends[this.phys(i + count - 1)]! - 1)
    if (run === undefined) {
      for (let k = i; k < i + count; k++) out.push({ n: this.nAt(k), stream, text: this.textAt(k) })
      return undefined
    }
    let s = 0
    for (let k = i; k < i + count; k++) {
      const p = this.phys(k)
      const e = this.ends[p]! - from
      out.push({ n: this.nums[p]!, stream, text: run.slice(s, e - 1) })
      s = e
    }
    return run
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

  /** The text of logical bytes [from, to) when it is ASCII and not split by the buffer's end; else undefined. */
  private asciiText(from: number, to: number): string | undefined {
    const buf = this.buf
    const p = (from - this.origin) % buf.length
    const n = to - from
    if (n <= 0) return n === 0 ? "" : undefined
    if (p + n > buf.length) return undefined
    const bytes = buf.subarray(p, p + n)
    return isAscii(bytes) ? buf.toString("latin1", p, p + n) : undefined
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
