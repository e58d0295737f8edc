/**
 * Turns one stream's raw bytes into lines: UTF-8 decoding that survives chunk
 * boundaries, `\n` / `\r\n` terminators, bare `\r` as "carriage return" (the
 * text after it replaces the line, as a terminal shows a progress bar), and a
 * byte cap per line with an exact count of what was cut.
 *
 * Plain synchronous code on the hot path of every job: it works on the decoded
 * chunk with native `indexOf` / `slice`, never byte by byte, and keeps at most
 * `maxLineBytes` of an unterminated line.
 *
 * @since 0.1.0
 */

export interface LineDecoderOptions {
  /** Longest line kept, in UTF-8 bytes; the rest is cut and counted. Callers use 65536. */
  readonly maxLineBytes: number
}

const LF = 10
const CR = 13
const STREAM = { stream: true } as const

/** The text appended to a line cut at `maxLineBytes`. */
export const truncationMarker = (omittedBytes: number): string => ` … [line truncated: ${omittedBytes} bytes omitted]`

/** UTF-8 byte length of a string (lone surrogates count 3, as they would be encoded). */
const byteLength = (s: string): number => Buffer.byteLength(s, "utf8")

/**
 * A copy of `s` that does not keep its parent string alive. V8 represents a
 * `slice` of 13+ characters as a view on the whole decoded chunk; flattening a
 * concatenation writes a fresh string. Used only when most of a chunk was thrown
 * away (progress-bar redraws, cut lines), so kept lines don't pin the garbage.
 */
const detach = (s: string): string => (s.length < 13 ? s : (" " + s).slice(1))

export class LineDecoder {
  readonly maxLineBytes: number
  /** Longest string (in UTF-16 units) that is certainly within `maxLineBytes` (≤ 3 bytes per unit). */
  private readonly safeLength: number
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
  /** The unterminated line (no `\r` in it); when cut, its first `maxLineBytes` bytes. */
  private head = ""
  /** UTF-8 bytes of `head`. */
  private headBytes = 0
  /** Bytes of the current line beyond `head` that were dropped (> 0 iff the line was cut). */
  private omitted = 0
  /** The last chunk ended with `\r`: a `\n` first in the next one makes it one `\r\n`. */
  private pendingCR = false
  /** Characters of the chunk being fed that ended up in no line (for `detach`). */
  private wasted = 0

  constructor(options: LineDecoderOptions) {
    this.maxLineBytes = Math.max(1, Math.floor(options.maxLineBytes))
    this.safeLength = Math.floor(this.maxLineBytes / 3)
  }

  /** Feed a raw chunk; returns the complete lines it finished (without terminators). */
  push(chunk: Uint8Array): Array<string> {
    const out: Array<string> = []
    const text = this.decoder.decode(chunk, STREAM)
    if (text.length > 0) this.feed(text, out)
    return out
  }

  /** The current unterminated line (what a prompt like "Password: " looks like), "" if none. */
  get partial(): string {
    return this.head
  }

  /**
   * End of stream: returns the final unterminated line as a line if non-empty
   * (and clears it). Incomplete UTF-8 at the very end becomes U+FFFD; a final
   * bare `\r` ends the line rather than erasing it (the last progress state stays).
   */
  end(): Array<string> {
    const out: Array<string> = []
    const rest = this.decoder.decode()
    if (rest.length > 0) this.feed(rest, out)
    this.pendingCR = false
    if (this.head.length > 0 || this.omitted > 0) this.emitPartial(out)
    return out
  }

  private feed(text: string, out: Array<string>): void {
    const first = out.length
    const len = text.length
    this.wasted = 0
    let i = 0
    if (this.pendingCR) {
      this.pendingCR = false
      if (text.charCodeAt(0) === LF) {
        this.emitPartial(out)
        i = 1
      } else {
        this.resetPartial()
      }
    }

    if (text.indexOf("\r", i) === -1) {
      // Fast path: no carriage return in the chunk.
      let j = text.indexOf("\n", i)
      if (j !== -1) {
        this.finishLine(text, i, j, out)
        i = j + 1
        const safe = this.safeLength
        while ((j = text.indexOf("\n", i)) !== -1) {
          const line = text.slice(i, j)
          out.push(line.length > safe ? this.limit(line) : line)
          i = j + 1
        }
      }
      if (i < len) this.appendPartial(i === 0 ? text : text.slice(i))
    } else {
      for (let j = text.indexOf("\n", i); j !== -1; j = text.indexOf("\n", i)) {
        let end = j
        if (end > i && text.charCodeAt(end - 1) === CR) end-- // \r\n
        const cr = end > i ? text.lastIndexOf("\r", end - 1) : -1
        if (cr >= i) {
          // Bare \r: what follows the last one replaces the line.
          this.wasted += cr + 1 - i
          this.resetPartial()
          i = cr + 1
        }
        this.finishLine(text, i, end, out)
        i = j + 1
      }
      if (i < len) {
        let end = len
        if (text.charCodeAt(len - 1) === CR) {
          this.pendingCR = true
          end--
        }
        const cr = end > i ? text.lastIndexOf("\r", end - 1) : -1
        if (cr >= i) {
          this.wasted += cr + 1 - i
          this.resetPartial()
          i = cr + 1
        }
        if (end > i) this.appendPartial(text.slice(i, end))
      }
    }

    if (this.wasted > 1024 && this.wasted * 2 > len) {
      for (let k = first; k < out.length; k++) out[k] = detach(out[k]!)
      this.head = detach(this.head)
    }
  }

  /** Ends the current line with `text[from, to)` as its last piece. */
  private finishLine(text: string, from: number, to: number, out: Array<string>): void {
    if (this.omitted > 0) {
      const piece = text.slice(from, to)
      this.wasted += piece.length
      this.omitted += byteLength(piece)
      this.emitPartial(out)
      return
    }
    const piece = text.slice(from, to)
    const line = this.head.length === 0 ? piece : this.head + piece
    this.head = ""
    this.headBytes = 0
    out.push(line.length > this.safeLength ? this.limit(line) : line)
  }

  /** Adds `s` (no terminator in it) to the unterminated line, cutting it past `maxLineBytes`. */
  private appendPartial(s: string): void {
    const bytes = byteLength(s)
    if (this.omitted > 0) {
      this.wasted += s.length
      this.omitted += bytes
      return
    }
    this.head = this.head.length === 0 ? s : this.head + s
    this.headBytes += bytes
    if (this.headBytes > this.maxLineBytes) {
      const [head, kept] = this.cut(this.head)
      this.wasted += s.length // the kept head is a fresh string, not a view on the chunk
      this.head = head
      this.omitted = this.headBytes - kept
      this.headBytes = kept
    }
  }

  /** Emits the unterminated line (with the marker when cut) and clears it. */
  private emitPartial(out: Array<string>): void {
    out.push(this.omitted > 0 ? this.head + truncationMarker(this.omitted) : this.head)
    this.resetPartial()
  }

  private resetPartial(): void {
    this.head = ""
    this.headBytes = 0
    this.omitted = 0
  }

  /** `line` if within `maxLineBytes`, else its head and the marker. */
  private limit(line: string): string {
    const bytes = byteLength(line)
    if (bytes <= this.maxLineBytes) return line
    const [head, kept] = this.cut(line)
    return head + truncationMarker(bytes - kept)
  }

  /**
   * The longest prefix of `s` of at most `maxLineBytes` UTF-8 bytes that ends on
   * a character boundary, and its byte length. `s` must be longer than that.
   */
  private cut(s: string): [string, number] {
    const max = this.maxLineBytes
    // max UTF-16 units encode to ≥ max bytes, so the cut lies within this prefix.
    const buf = Buffer.from(s.length > max ? s.slice(0, max) : s, "utf8")
    let end = max
    while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--
    return [buf.toString("utf8", 0, end), end]
  }
}
