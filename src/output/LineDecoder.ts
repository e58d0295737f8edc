/**
 * Turns one stream's raw bytes into lines, as bytes: UTF-8 that survives chunk
 * boundaries (invalid sequences become U+FFFD), `\n` / `\r\n` terminators, bare
 * `\r` as "carriage return" (the text after it replaces the line, as a terminal
 * shows a progress bar), and a byte cap per line with an exact count of what was cut.
 *
 * Plain synchronous code on the hot path of every job. It never decodes to
 * strings: it scans the chunk's bytes and hands runs of complete lines to a sink
 * as byte ranges, each line followed by one `\n` — in the common case (no `\r`,
 * no long line, nothing carried over) a single range of the chunk itself, so a
 * chunk of thousands of lines costs one call. Strings are made only by readers.
 *
 * @since 0.1.0
 */
import { isUtf8 } from "node:buffer"
import { type SimdLineEnds, simdLineEnds } from "./SimdLineEnds.js"

export interface LineDecoderOptions {
  /** Longest line kept, in UTF-8 bytes; the rest is cut and counted. Callers use 65536. */
  readonly maxLineBytes: number
  /** false: scan in JS even where WebAssembly SIMD is available (tests check both scans agree). */
  readonly simd?: boolean
}

/**
 * Receives complete lines: `src[from, ends[count − 1])` holds `count` lines, line k
 * ending just before `ends[k] − 1` where its `\n` is (so line k is
 * `src[k === 0 ? from : ends[k − 1], ends[k] − 1)`). Valid UTF-8, each line within
 * `maxLineBytes` (plus the truncation marker when cut). `src` and `ends` are only
 * valid during the call: copy what you keep.
 */
export type LineSink = (src: Buffer, from: number, ends: Int32Array, count: number) => void

const LF = 10
const CR = 13
/** Lines scanned byte by byte in JS up to this length; past it, native `indexOf` (memchr) is cheaper. */
const JS_SCAN = 96

/**
 * Lines up to this long are found 16 bytes at a time (WebAssembly SIMD) or a word (4 bytes)
 * at a time (\`wholeLines\`); the scan of a longer one falls back to the per-line search
 * (native \`indexOf\` past \`JS_SCAN\`).
 */
const WORD_SCAN = 256

/** The word scan reads bytes in the machine's order: it assumes little-endian (else it is skipped). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const NO_WORDS = new Int32Array(0)

/** Lines handed to the sink per call at most (≤ SimdLineEnds' MAX_ENDS, 4080: the module's room for line ends). */
const RUN_LINES = 2048

/** The text appended to a line cut at `maxLineBytes`. */
export const truncationMarker = (omittedBytes: number): string => ` … [line truncated: ${omittedBytes} bytes omitted]`

/** The end of the longest prefix of `buf[from, to)` ending on a character boundary (UTF-8 is valid). */
const charBoundary = (buf: Uint8Array, from: number, to: number): number => {
  let end = to
  while (end > from && (buf[end]! & 0xc0) === 0x80) end--
  return end
}

/**
 * Makes chunks valid UTF-8 with the meaning a streaming WHATWG decoder gives them:
 * an incomplete character at the end of a chunk waits for the next one; a chunk
 * with invalid sequences is decoded and re-encoded (U+FFFD). Valid chunks, the
 * common case, pass through untouched (one SIMD validation).
 */
class Utf8Normalizer {
  private readonly carry = Buffer.alloc(4)
  private carryLen = 0
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

  push(chunk: Buffer): Buffer {
    let data = chunk
    if (this.carryLen > 0) {
      data = Buffer.concat([this.carry.subarray(0, this.carryLen), chunk])
      this.carryLen = 0
    }
    const len = data.length
    // Carry a trailing incomplete character: a lead byte in the last 3 with too few bytes after it.
    for (let k = len - 1; k >= 0 && k >= len - 3; k--) {
      const b = data[k]!
      if (b < 0x80) break
      if (b >= 0xc0) {
        const need = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
        if (len - k < need) {
          data.copy(this.carry, 0, k, len)
          this.carryLen = len - k
          data = data.subarray(0, k)
        }
        break
      }
    }
    return isUtf8(data) ? data : Buffer.from(this.decoder.decode(data), "utf8")
  }

  /** End of stream: what is left becomes U+FFFD. */
  end(): Buffer | undefined {
    if (this.carryLen === 0) return undefined
    const rest = Buffer.from(this.decoder.decode(this.carry.subarray(0, this.carryLen)), "utf8")
    this.carryLen = 0
    return rest
  }
}

export class LineDecoder {
  readonly maxLineBytes: number
  private readonly utf8 = new Utf8Normalizer()
  /** The unterminated line (no `\r` in it); when cut, its first `maxLineBytes` bytes. */
  private head: Buffer = Buffer.alloc(0)
  private headLen = 0
  /** Bytes of the current line beyond `head` that were dropped (> 0 iff the line was cut). */
  private omitted = 0
  /** The last chunk ended with `\r`: a `\n` first in the next one makes it one `\r\n`. */
  private pendingCR = false
  /** Line ends of the run being scanned (a run longer than this is handed over in parts). */
  private readonly ends = new Int32Array(RUN_LINES)
  /** A line assembled outside the chunk (continued, cut, `\r\n`), with its `\n`. */
  private scratch: Buffer = Buffer.alloc(256)
  private readonly one = new Int32Array(1)
  /** The run being built across \`wholeLines\` calls: its start and its line count. */
  private runFrom = 0
  private runCount = 0
  /** \`words\` views \`wordsOf\`'s bytes from its first 4-byte-aligned one (\`wordsAt\`) as 32-bit words. */
  private wordsOf: Buffer | undefined = undefined
  private words: Int32Array = NO_WORDS
  private wordsAt = 0
  /** The WebAssembly scan, when available and not turned off. */
  private readonly simd: SimdLineEnds | undefined

  constructor(options: LineDecoderOptions) {
    this.maxLineBytes = Math.max(1, Math.floor(options.maxLineBytes))
    this.simd = options.simd === false ? undefined : simdLineEnds
  }

  /** Whether the common case is scanned with WebAssembly SIMD (else in JS, a word at a time). */
  get usesSimd(): boolean {
    return this.simd !== undefined
  }

  /** Whether there is an unterminated line (cheap; `partial` decodes it). */
  get hasPartial(): boolean {
    return this.headLen > 0
  }

  /** The current unterminated line (what a prompt like "Password: " looks like), "" if none. */
  get partial(): string {
    return this.headLen === 0 ? "" : this.head.toString("utf8", 0, this.headLen)
  }

  /** Feed a raw chunk; complete lines go to `sink`. */
  feed(chunk: Buffer, sink: LineSink): void {
    const data = this.utf8.push(chunk)
    if (data.length > 0) this.scan(data, sink)
  }

  /**
   * End of stream: the final unterminated line goes to `sink` if non-empty (and is
   * cleared). Incomplete UTF-8 at the very end becomes U+FFFD; a final bare `\r`
   * ends the line rather than erasing it (the last progress state stays).
   */
  finish(sink: LineSink): void {
    const rest = this.utf8.end()
    if (rest !== undefined && rest.length > 0) this.scan(rest, sink)
    this.pendingCR = false
    if (this.headLen > 0 || this.omitted > 0) this.emitPartial(sink)
  }

  /** Feed a raw chunk; returns the complete lines it finished, as strings (tests, small callers). */
  push(chunk: Uint8Array): Array<string> {
    const out: Array<string> = []
    this.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), collect(out))
    return out
  }

  /** `finish`, returning the lines as strings. */
  end(): Array<string> {
    const out: Array<string> = []
    this.finish(collect(out))
    return out
  }

  private scan(data: Buffer, sink: LineSink): void {
    // A copy held from a scan that a throwing sink cut short could be this Buffer's old content.
    this.simd?.release()
    const len = data.length
    const max = this.maxLineBytes
    let i = 0
    if (this.pendingCR) {
      this.pendingCR = false
      if (data[0] === LF) {
        this.emitPartial(sink)
        i = 1
      } else {
        this.resetPartial()
      }
    }
    /** Start of the run of lines taken as they are from `data` (none while `count` is 0). */
    let runFrom = i
    let count = 0
    const ends = this.ends
    /** Position of the next `\r` at or after i (len if none): most output has none, and then the scan looks for `\n` only. */
    let nextCR = data.indexOf(CR, i)
    if (nextCR === -1) nextCR = len
    while (i < len) {
      if (i < nextCR && this.headLen === 0 && this.omitted === 0 && (this.simd !== undefined || LITTLE_ENDIAN)) {
        this.runFrom = runFrom
        this.runCount = count
        i = this.simd !== undefined ? this.simdLines(data, i, nextCR, sink, this.simd) : this.wholeLines(data, i, nextCR, sink)
        runFrom = this.runFrom
        count = this.runCount
        if (i === len) break
      }
      // Find the next \n or \r from i.
      let j = i
      let b = 0
      const stop = Math.min(nextCR, i + JS_SCAN)
      while (j < stop && data[j] !== LF) j++
      if (j < stop) b = LF
      else if (j === nextCR && j < len) b = CR
      else if (j < len) {
        // A long line: native search (memchr) for its end.
        const lf = data.indexOf(LF, j)
        j = lf === -1 || nextCR < lf ? nextCR : lf
        b = j < len ? data[j]! : 0
      }
      if (j === len) break
      if (b === LF && this.headLen === 0 && this.omitted === 0 && j - i <= max) {
        // The common case: a whole line in this chunk, kept as it is.
        if (count === ends.length) {
          // The run's line ends are bounded (memory per job): hand over what is there.
          sink(data, runFrom, ends, count)
          count = 0
          runFrom = i
        }
        ends[count++] = j + 1
        i = j + 1
        continue
      }
      if (count > 0) sink(data, runFrom, ends, count)
      count = 0
      if (b === LF) {
        this.finishLine(data, i, j, sink)
        i = j + 1
      } else if (j + 1 < len) {
        if (data[j + 1] === LF) {
          this.finishLine(data, i, j, sink)
          i = j + 2
        } else {
          // Bare \r: what follows replaces the line.
          this.resetPartial()
          i = j + 1
        }
      } else {
        // \r last in the chunk: a \r\n, or a bare \r, depending on the next chunk.
        this.appendPartial(data, i, j)
        this.pendingCR = true
        i = len
      }
      runFrom = i
      if (nextCR < i) {
        nextCR = data.indexOf(CR, i)
        if (nextCR === -1) nextCR = len
      }
    }
    if (count > 0) sink(data, runFrom, ends, count)
    // The word view is for this chunk only: kept, it would hold the chunk's memory (a socket read's) after it.
    if (this.wordsOf !== undefined) {
      this.wordsOf = undefined
      this.words = NO_WORDS
    }
    this.simd?.release()
    if (i < len) this.appendPartial(data, i, len)
  }

  /**
   * The common case of \`scan\`, a word at a time: the lines of \`data[i, to)\` (no \`\r\`
   * in it, nothing carried over) that end there within \`min(maxLineBytes, WORD_SCAN)\`
   * bytes join the run (\`runFrom\`, \`runCount\`; handed to \`sink\` when \`ends\` is full).
   * Returns where the first line it did not take starts (longer, or not ended before
   * \`to\`), for the per-line scan. Short lines (\`seq\`: 8 bytes) cost a word test per
   * 4 bytes instead of a comparison per byte and a search per line.
   */
  private wholeLines(data: Buffer, i: number, to: number, sink: LineSink): number {
    if (this.wordsOf !== data) {
      this.wordsOf = data
      this.wordsAt = (4 - (data.byteOffset & 3)) & 3
      const n = Math.max(0, (data.length - this.wordsAt) >> 2)
      this.words = n === 0 ? new Int32Array(0) : new Int32Array(data.buffer, data.byteOffset + this.wordsAt, n)
    }
    const words = this.words
    const at = this.wordsAt
    const ends = this.ends
    const limit = Math.min(this.maxLineBytes, WORD_SCAN)
    let runFrom = this.runFrom
    let count = this.runCount
    /** Start of the line being scanned. */
    let start = i
    let k = i
    scan: {
      // Bytes before the first whole word.
      for (; k < to && ((k - at) & 3) !== 0; k++) {
        if (data[k] !== LF) continue
        if (k - start > limit) break scan
        if (count === ends.length) {
          sink(data, runFrom, ends, count)
          count = 0
          runFrom = start
        }
        ends[count++] = k + 1
        start = k + 1
      }
      // Whole words: t has bit 7 of each byte that is \n set (exact, no false positives).
      const lastWord = Math.min(words.length, (to - at) >> 2)
      for (let q = (k - at) >> 2; q < lastWord; q++) {
        const w = words[q]! ^ 0x0a0a0a0a
        let t = ~(((w & 0x7f7f7f7f) + 0x7f7f7f7f) | w | 0x7f7f7f7f)
        k = at + (q << 2)
        if (t === 0) {
          if (k + 4 - start > limit) break scan
          continue
        }
        do {
          const p = k + ((31 - Math.clz32(t & -t)) >> 3)
          if (p - start > limit) break scan
          if (count === ends.length) {
            sink(data, runFrom, ends, count)
            count = 0
            runFrom = start
          }
          ends[count++] = p + 1
          start = p + 1
          t &= t - 1
        } while (t !== 0)
      }
      k = Math.max(k, at + (lastWord << 2))
      // Bytes after the last whole word.
      for (; k < to; k++) {
        if (data[k] !== LF) continue
        if (k - start > limit) break scan
        if (count === ends.length) {
          sink(data, runFrom, ends, count)
          count = 0
          runFrom = start
        }
        ends[count++] = k + 1
        start = k + 1
      }
    }
    this.runFrom = runFrom
    this.runCount = count
    return start
  }

  /** \`wholeLines\` with the WebAssembly scan: the same lines, the same runs. */
  private simdLines(data: Buffer, i: number, to: number, sink: LineSink, simd: SimdLineEnds): number {
    const ends = this.ends
    const limit = Math.min(this.maxLineBytes, WORD_SCAN)
    let runFrom = this.runFrom
    let count = this.runCount
    let start = i
    for (;;) {
      if (count === ends.length) {
        sink(data, runFrom, ends, count)
        count = 0
        runFrom = start
      }
      const found = simd.scan(data, start, to, limit, ends.length - count)
      if (found > 0) ends.set(simd.ends.subarray(0, found), count)
      count += found
      start = simd.next
      if (count === ends.length) continue
      // Done at \`to\` or at a longer line; else at the end of the module's window: go on.
      if (simd.scanned === to || simd.scanned - start > limit) break
    }
    this.runFrom = runFrom
    this.runCount = count
    return start
  }

  /** Adds `data[from, to)` (no terminator in it) to the unterminated line, cutting it past `maxLineBytes`. */
  private appendPartial(data: Buffer, from: number, to: number): void {
    const n = to - from
    if (this.omitted > 0) {
      this.omitted += n
      return
    }
    const max = this.maxLineBytes
    const room = max - this.headLen
    if (n <= room) {
      this.reserveHead(this.headLen + n)
      data.copy(this.head, this.headLen, from, to)
      this.headLen += n
      return
    }
    const keepTo = charBoundary(data, from, from + room)
    this.reserveHead(this.headLen + keepTo - from)
    data.copy(this.head, this.headLen, from, keepTo)
    this.headLen += keepTo - from
    this.omitted = to - keepTo
  }

  private reserveHead(size: number): void {
    if (size <= this.head.length) return
    const head = Buffer.allocUnsafe(Math.min(Math.max(size, this.head.length * 2, 64), this.maxLineBytes))
    this.head.copy(head, 0, 0, this.headLen)
    this.head = head
  }

  /** Ends the current line with `data[from, to)` as its last piece. */
  private finishLine(data: Buffer, from: number, to: number, sink: LineSink): void {
    this.appendPartial(data, from, to)
    this.emitPartial(sink)
  }

  /** Emits the unterminated line (with the marker when cut) and clears it. */
  private emitPartial(sink: LineSink): void {
    const marker = this.omitted > 0 ? truncationMarker(this.omitted) : ""
    const size = this.headLen + Buffer.byteLength(marker) + 1
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2))
    const s = this.scratch
    this.head.copy(s, 0, 0, this.headLen)
    let at = this.headLen
    if (marker.length > 0) at += s.write(marker, at, "utf8")
    s[at++] = LF
    this.one[0] = at
    this.resetPartial()
    sink(s, 0, this.one, 1)
  }

  private resetPartial(): void {
    this.headLen = 0
    this.omitted = 0
  }
}

/** A sink that decodes every line to a string (for tests and small callers). */
const collect = (out: Array<string>): LineSink => (src, from, ends, count) => {
  let start = from
  for (let k = 0; k < count; k++) {
    out.push(src.toString("utf8", start, ends[k]! - 1))
    start = ends[k]!
  }
}
