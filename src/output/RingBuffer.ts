/**
 * A job's recent output: the last lines of stdout and of stderr, each stream in
 * its own circular buffer bounded by a line count and a byte count, numbered
 * job-wide (1, 2, 3 … across both streams) so an agent can resume from a cursor.
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
import type { StreamName } from "../domain/jobs.js"

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
  readonly stream: "both" | StreamName
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

const INITIAL_CAPACITY = 256

/** UTF-8 byte length; a JS loop beats the native call for the short lines that dominate. */
const utf8Length = (s: string): number => {
  const len = s.length
  if (len > 64) return Buffer.byteLength(s, "utf8")
  let bytes = len
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else {
      // 3 bytes; a surrogate pair is 2 units for 4 bytes (a lone surrogate encodes as 3).
      bytes += 2
      if (c < 0xdc00 && c >= 0xd800 && i + 1 < len && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++
    }
  }
  return bytes
}

/** One stream's lines: a circular array growing (by doubling) up to `maxLines`. */
class StreamRing {
  lines: Array<Line | undefined>
  bytes: Float64Array
  capacity: number
  /** Physical index of the oldest line. */
  start = 0
  size = 0
  totalBytes = 0
  appended = 0
  evicted = 0

  constructor(readonly maxLines: number, readonly maxBytes: number) {
    this.capacity = Math.min(maxLines, INITIAL_CAPACITY)
    this.lines = new Array<Line | undefined>(this.capacity)
    this.bytes = new Float64Array(this.capacity)
  }

  /** The line at logical index i (0 = oldest). */
  at(i: number): Line {
    const p = this.start + i
    return this.lines[p < this.capacity ? p : p - this.capacity]!
  }

  bytesAt(i: number): number {
    const p = this.start + i
    return this.bytes[p < this.capacity ? p : p - this.capacity]!
  }

  /** n of the oldest retained line (Infinity if none). */
  get oldestN(): number {
    return this.size === 0 ? Infinity : this.at(0).n
  }

  /** Logical index of the first line with n > since (size if none). */
  firstAfter(since: number): number {
    let lo = 0
    let hi = this.size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.at(mid).n > since) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  push(line: Line, bytes: number): void {
    while (this.size > 0 && (this.size >= this.maxLines || this.totalBytes + bytes > this.maxBytes)) this.evictOldest()
    if (this.size === this.capacity) this.grow()
    const p = this.start + this.size
    const idx = p < this.capacity ? p : p - this.capacity
    this.lines[idx] = line
    this.bytes[idx] = bytes
    this.size++
    this.totalBytes += bytes
    this.appended++
  }

  private evictOldest(): void {
    const s = this.start
    this.totalBytes -= this.bytes[s]!
    this.lines[s] = undefined
    this.start = s + 1 === this.capacity ? 0 : s + 1
    this.size--
    this.evicted++
  }

  private grow(): void {
    const capacity = Math.min(this.maxLines, this.capacity * 2)
    const lines = new Array<Line | undefined>(capacity)
    const bytes = new Float64Array(capacity)
    for (let i = 0; i < this.size; i++) {
      const p = this.start + i
      const idx = p < this.capacity ? p : p - this.capacity
      lines[i] = this.lines[idx]
      bytes[i] = this.bytes[idx]!
    }
    this.lines = lines
    this.bytes = bytes
    this.capacity = capacity
    this.start = 0
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
  private readonly rings: Record<StreamName, StreamRing>
  private readonly log = new RunLog()
  private last = 0

  constructor(options: RingBufferOptions) {
    const maxLines = Math.max(1, Math.floor(options.maxLines))
    const maxBytes = Math.max(0, options.maxBytes)
    this.rings = { stdout: new StreamRing(maxLines, maxBytes), stderr: new StreamRing(maxLines, maxBytes) }
  }

  /** The n of the newest line appended (0 if none). */
  get lastLineNo(): number {
    return this.last
  }

  /**
   * Appends a line to `stream`, numbered with the job-wide next number, evicting
   * that stream's oldest lines to stay within `maxLines` and `maxBytes`.
   */
  append(stream: StreamName, text: string): Line {
    const line: Line = { n: ++this.last, stream, text }
    const ring = this.rings[stream]
    ring.push(line, utf8Length(text))
    const log = this.log
    log.append(line.n, stream === "stdout")
    if (log.due) log.compact(Math.min(this.rings.stdout.oldestN, this.rings.stderr.oldestN) - 1)
    return line
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
      const out = this.rings.stdout
      const err = this.rings.stderr
      let i = out.firstAfter(since)
      let j = err.firstAfter(since)
      while (i < out.size || j < err.size) {
        const fromOut = j >= err.size || (i < out.size && out.at(i).n < err.at(j).n)
        const b = fromOut ? out.bytesAt(i) : err.bytesAt(j)
        if (!fits(b)) {
          more = true
          break
        }
        bytes += b
        if (fromOut) lines.push(out.at(i++))
        else lines.push(err.at(j++))
      }
    } else {
      const ring = this.rings[opts.stream]
      for (let i = ring.firstAfter(since); i < ring.size; i++) {
        const b = ring.bytesAt(i)
        if (!fits(b)) {
          more = true
          break
        }
        bytes += b
        lines.push(ring.at(i))
      }
    }

    const nextLineNo = more ? (lines.length > 0 ? lines[lines.length - 1]!.n : since) : Math.max(since, this.last)
    return { lines, nextLineNo, dropped: this.dropped(since, opts.stream), more }
  }

  /** Lines appended ever per stream, and evicted ever. */
  counts(): RingCounts {
    const out = this.rings.stdout
    const err = this.rings.stderr
    return {
      stdout: out.appended,
      stderr: err.appended,
      total: out.appended + err.appended,
      dropped: { stdout: out.evicted, stderr: err.evicted }
    }
  }

  /** Evicted lines with n > since of the given stream(s). */
  private dropped(since: number, stream: "both" | StreamName): number {
    if (since >= this.last) return 0
    if (stream === "both") {
      const out = this.rings.stdout
      const err = this.rings.stderr
      if (out.evicted + err.evicted === 0) return 0
      const retained = out.size - out.firstAfter(since) + err.size - err.firstAfter(since)
      return this.last - since - retained
    }
    const ring = this.rings[stream]
    // The stream's evicted lines are exactly its lines with n < its oldest retained n.
    if (ring.evicted === 0 || since >= ring.oldestN - 1) return 0
    const out = this.log.rankStdout(since)
    const rank = stream === "stdout" ? out : since - out
    return Math.min(ring.evicted, Math.max(0, ring.evicted - rank))
  }
}
