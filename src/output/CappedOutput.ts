/**
 * Collects a stream's bytes up to a cap, keeping the head and the tail and counting
 * what falls between: what `ssh_exec` returns for a command that printed too much.
 *
 * @since 0.1.0
 */

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
  private tail: Array<Uint8Array> = []
  private tailBytes = 0
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
    if (rest.length === 0 || this.tailCap === 0) return
    this.tail.push(rest)
    this.tailBytes += rest.length
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) {
      this.tailBytes -= this.tail.shift()!.length
    }
  }

  /** Total bytes seen. */
  get bytes(): number {
    return this.total
  }

  /** Bytes left out of `text()`. */
  get omitted(): number {
    return Math.max(0, this.total - this.cap)
  }

  get truncated(): boolean {
    return this.total > this.cap
  }

  /** The collected output, with `… N bytes omitted …` between head and tail when capped. */
  text(): string {
    const head = Buffer.concat(this.head)
    const tailAll = Buffer.concat(this.tail)
    if (!this.truncated) return decoder.decode(Buffer.concat([head, tailAll]))
    const tail = tailAll.subarray(tailAll.length - this.tailCap)
    const headCut = completeEnd(head)
    const tailStart = nextBoundary(tail, 0)
    const omitted = this.total - headCut - (tail.length - tailStart)
    return `${decoder.decode(head.subarray(0, headCut))}\n… ${omitted} bytes omitted …\n${decoder.decode(tail.subarray(tailStart))}`
  }
}
