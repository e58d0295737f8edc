/**
 * Finds a fixed marker at the end of a byte stream and keeps it out of the data: what
 * passes is everything before it. The marker may arrive cut across chunks, so the end of
 * a chunk that could begin it is held back until the next chunk decides (a few bytes, and
 * only when the chunk ends in what starts the marker: `ESC ]`).
 *
 * @since 0.4.0
 */

export class EndMarker {
  private held: Buffer = Buffer.alloc(0)
  /** The marker was seen: nothing after it is passed on. */
  found = false

  constructor(private readonly marker: Buffer) {}

  /** The bytes of `chunk` that come before the marker (and are not held back). */
  push(chunk: Buffer): Buffer {
    if (this.found) return Buffer.alloc(0)
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk])
    const at = buf.indexOf(this.marker)
    if (at >= 0) {
      this.found = true
      this.held = Buffer.alloc(0)
      return buf.subarray(0, at)
    }
    const keep = this.prefixAtEnd(buf)
    this.held = keep === 0 ? Buffer.alloc(0) : Buffer.from(buf.subarray(buf.length - keep))
    return keep === 0 ? buf : buf.subarray(0, buf.length - keep)
  }

  /** Bytes held back (they are not passed on, so not counted as read). */
  get pending(): number {
    return this.held.length
  }

  /** The longest end of `buf` that is a proper start of the marker. */
  private prefixAtEnd(buf: Buffer): number {
    const first = this.marker[0]!
    for (let n = Math.min(this.marker.length - 1, buf.length); n > 0; n--) {
      if (buf[buf.length - n] !== first) continue
      if (buf.subarray(buf.length - n).equals(this.marker.subarray(0, n))) return n
    }
    return 0
  }
}
