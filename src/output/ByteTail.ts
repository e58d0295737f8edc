/**
 * The last bytes a terminal job printed, raw (escapes and all), with the absolute offset
 * of each: what the screen emulator replays (src/output/TerminalScreen.ts). A ring that
 * grows as needed up to `cap`, so a job that prints little holds little.
 *
 * Plain synchronous code on the ingest path: one copy per chunk.
 *
 * @since 0.4.0
 */

export class ByteTail {
  private buf: Buffer = Buffer.alloc(0)
  /** Index in `buf` of the oldest byte held. */
  private head = 0
  private held = 0
  /** Bytes pushed since the start. */
  total = 0

  constructor(readonly cap: number) {}

  /** Absolute offset of the oldest byte still held. */
  get start(): number {
    return this.total - this.held
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length
    if (chunk.length >= this.cap) {
      this.ensure(this.cap)
      this.buf.set(chunk.subarray(chunk.length - this.cap), 0)
      this.head = 0
      this.held = this.cap
      return
    }
    this.ensure(Math.min(this.cap, this.held + chunk.length))
    const size = this.buf.length
    let at = (this.head + this.held) % size
    let rest = chunk
    while (rest.length > 0) {
      const n = Math.min(rest.length, size - at)
      this.buf.set(rest.subarray(0, n), at)
      rest = rest.subarray(n)
      at = (at + n) % size
    }
    const over = this.held + chunk.length - size
    if (over > 0) {
      this.head = (this.head + over) % size
      this.held = size
    } else {
      this.held += chunk.length
    }
  }

  /** The bytes from absolute offset `from` to now; undefined when some of them were evicted. */
  since(from: number): Buffer | undefined {
    if (from < this.start) return undefined
    const n = this.total - Math.min(from, this.total)
    return this.last(n)
  }

  /** Every byte held. */
  all(): Buffer {
    return this.last(this.held)
  }

  private last(n: number): Buffer {
    const size = this.buf.length
    if (n === 0 || size === 0) return Buffer.alloc(0)
    const from = (this.head + this.held - n) % size
    if (from + n <= size) return Buffer.from(this.buf.subarray(from, from + n))
    return Buffer.concat([this.buf.subarray(from), this.buf.subarray(0, n - (size - from))])
  }

  /** Room for `need` bytes, growing by doubling (the held bytes move to the front). */
  private ensure(need: number): void {
    if (need <= this.buf.length) return
    const size = Math.min(this.cap, Math.max(need, this.buf.length * 2, 4096))
    const next = Buffer.alloc(size)
    const kept = this.all()
    next.set(kept, 0)
    this.buf = next
    this.head = 0
    this.held = kept.length
  }
}
