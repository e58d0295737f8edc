/**
 * Collects a stream's bytes up to a cap, keeping the head and the tail and counting
 * what falls between: what `ssh_exec` returns for a command that printed too much.
 * The cuts fall on line boundaries, so what shows on either side of the marker is
 * whole lines; only a line longer than the head (or tail) budget is cut inside, and
 * the marker says so.
 *
 * @since 0.1.0
 */

import { jsonCost } from "./jsonBudget.js"

const NL = 0x0a

/** Index of the first byte of the UTF-8 character that contains `buf[i]`, moving forward to a boundary. */
const nextBoundary = (buf: Uint8Array, i: number): number => {
  while (i < buf.length && (buf[i]! & 0xc0) === 0x80) i++
  return i
}

/** Length of `buf` without a trailing incomplete UTF-8 character. */
const completeEnd = (buf: Uint8Array): number => {
  let start = buf.length - 1
  while (start > 0 && buf.length - start < 4 && (buf[start]! & 0xc0) === 0x80) start--
  if (start < 0) return 0
  const lead = buf[start]!
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
  return start + need > buf.length ? start : buf.length
}

const decoder = new TextDecoder("utf-8", { fatal: false })

export class CappedOutput {
  private readonly headCap: number
  private readonly tailCap: number
  private readonly head: Array<Uint8Array> = []
  private headBytes = 0
  /** The first byte after the head, once seen: tells whether the head ends a line. */
  private afterHead: number | undefined = undefined
  private tail: Array<Uint8Array> = []
  private tailBytes = 0
  /** The last byte of the newest chunk dropped from the tail: tells whether the tail starts a line. */
  private beforeTail: number | undefined = undefined
  private total = 0

  /** `cap`: bytes kept at most (half head, half tail) when the output is longer than that. */
  constructor(readonly cap: number) {
    this.headCap = Math.ceil(cap / 2)
    this.tailCap = cap - this.headCap
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length
    let rest = chunk
    if (this.headBytes < this.headCap) {
      const take = Math.min(this.headCap - this.headBytes, rest.length)
      this.head.push(rest.subarray(0, take))
      this.headBytes += take
      rest = rest.subarray(take)
    }
    if (rest.length === 0) return
    if (this.afterHead === undefined) this.afterHead = rest[0]
    if (this.tailCap === 0) return
    this.tail.push(rest)
    this.tailBytes += rest.length
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) {
      const dropped = this.tail.shift()!
      this.beforeTail = dropped[dropped.length - 1]
      this.tailBytes -= dropped.length
    }
  }

  /** Total bytes seen. */
  get bytes(): number {
    return this.total
  }

  /** Bytes left out of `text()`: the count its marker shows. */
  get omitted(): number {
    return this.truncated ? this.cut(this.cap).omitted : 0
  }

  get truncated(): boolean {
    return this.total > this.cap
  }

  /** Whether `text(cap)` is cut. */
  truncatedAt(cap: number): boolean {
    return this.total > Math.min(cap, this.cap)
  }

  /**
   * The collected output; when capped, whole lines of head and tail around a line
   * `… N bytes omitted …`, where N counts every byte not shown (the newline that ends
   * the head's last line is shown as the marker's own line break, so it is counted too).
   * A smaller `cap` than the constructor's cuts again, as if that had been the cap
   * (head and tail of the whole stream, N still counting from the whole stream);
   * `by` then says in the marker what cut it (`… N bytes omitted by X …`).
   */
  text(cap: number = this.cap, by?: string, route?: string): string {
    const limit = Math.min(cap, this.cap)
    if (this.total <= limit) return decoder.decode(Buffer.concat([...this.head, ...this.tail]))
    const { head, tail, omitted, headCutInLine, tailCutInLine } = this.cut(limit)
    const note = headCutInLine && tailCutInLine
      ? " (the lines above and below are cut)"
      : headCutInLine
      ? " (the line above is cut)"
      : tailCutInLine
      ? " (the line below is cut)"
      : ""
    const reason = by !== undefined && limit < this.cap ? ` by ${by}` : ""
    const how = route === undefined ? "" : `; ${route}`
    return `${decoder.decode(head)}\n… ${omitted} bytes omitted${reason}${note}${how} …\n${decoder.decode(tail)}`
  }

  /**
   * How many whole lines `text(cap)` shows before its marker (0 when it is not cut, or
   * when what shows there is the start of a cut line).
   */
  headLines(cap: number = this.cap): number {
    if (this.total <= Math.min(cap, this.cap)) return 0
    const { head, headCutInLine } = this.cut(Math.min(cap, this.cap))
    if (headCutInLine || head.length === 0) return 0
    let n = 1
    for (let i = head.indexOf(NL); i >= 0; i = head.indexOf(NL, i + 1)) n++
    return n
  }

  /**
   * The largest raw cap (≤ the constructor's) at which `text(cap, by, route)` costs at most
   * `budget` bytes in a JSON string (escapes included): what a result can hold of this
   * stream. `text()` itself when that fits; 0 when not even the marker does.
   */
  capWithin(budget: number, by?: string, route?: string): number {
    let cap = Math.min(this.cap, this.total)
    for (let round = 0; round < 20 && cap > 0; round++) {
      const cost = jsonCost(this.text(cap, by, route))
      if (cost <= budget) return cap
      // Shrink by the excess (escapes make a byte cost up to 6); at least a little each round.
      cap = Math.max(0, Math.min(cap - 1, Math.floor(cap * (budget / cost)) - 16))
    }
    return 0
  }

  /**
   * Where the output is cut for `cap` (≤ the constructor's, and < the total): the head up to
   * its last line break, the tail from its first line start.
   */
  private cut(cap: number) {
    const headCap = Math.ceil(cap / 2)
    const tailCap = cap - headCap
    let headAll: Uint8Array
    let afterHead: number | undefined
    let tailAll: Uint8Array
    let beforeTail: number | undefined
    if (this.total <= this.cap) {
      // Everything was kept: cut the whole stream.
      const all = Buffer.concat([...this.head, ...this.tail])
      headAll = all.subarray(0, headCap)
      afterHead = all[headCap]
      tailAll = all.subarray(headCap)
      beforeTail = undefined
    } else {
      // The stored head is the stream's first bytes, the stored tail window (at least this.tailCap) its last.
      const stored = Buffer.concat(this.head)
      headAll = stored.subarray(0, headCap)
      afterHead = headCap < stored.length ? stored[headCap] : this.afterHead
      tailAll = Buffer.concat(this.tail)
      beforeTail = this.beforeTail
    }
    const tailFrom = Math.max(0, tailAll.length - tailCap)
    const tailWindow = tailAll.subarray(tailFrom)
    const before = tailFrom > 0 ? tailAll[tailFrom - 1] : beforeTail

    // Head: up to the last line break (which the marker's leading break stands for).
    let headCut: number
    let headCutInLine = false
    if (afterHead === NL) headCut = headAll.length
    else {
      const nl = headAll.lastIndexOf(NL)
      if (nl >= 0) headCut = nl
      else {
        headCut = completeEnd(headAll)
        headCutInLine = headCut > 0
      }
    }
    // Tail: from the first line start.
    let tailStart: number
    let tailCutInLine = false
    if (before === NL) tailStart = 0
    else {
      const nl = tailWindow.indexOf(NL)
      // A break only at the very end: the tail is all inside the last line.
      if (nl >= 0 && nl + 1 < tailWindow.length) tailStart = nl + 1
      else {
        tailStart = nextBoundary(tailWindow, 0)
        tailCutInLine = tailStart < tailWindow.length
      }
    }
    const head = headAll.subarray(0, headCut)
    const tail = tailWindow.subarray(tailStart)
    return { head, tail, omitted: this.total - head.length - tail.length, headCutInLine, tailCutInLine }
  }
}
