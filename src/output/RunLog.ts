/**
 * The job-wide order of a job's two streams, kept so that a read of one stream can say
 * exactly how many of its lines after a cursor were evicted (`RingBuffer`'s `dropped`).
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

/** Checkpoints kept for the history evicted from both streams before compacting. */
const EVICTED_CHECKPOINTS = 1024

/**
 * The job-wide order of streams as checkpoints: `outAt[i]` stdout lines have
 * n ≤ `nAt[i]`; between two checkpoints the lines are all stdout, all stderr
 * (exact) or, after compaction, mixed (interpolated). Starts at (0, 0).
 */
export class RunLog {
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
