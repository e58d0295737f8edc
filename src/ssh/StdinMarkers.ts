/**
 * Takes the stdin probe's marker lines (`STDIN_MARKER` + `0`/`1` + newline, see shell.ts)
 * out of a job's stderr, in stream order, so they never reach its output. A marker is
 * written in one `write` of under PIPE_BUF bytes, so the job's own writes never land
 * inside it, but it may land inside a job's unterminated line, and a chunk may end in
 * the middle of it: bytes that may begin a marker are held until the next chunk.
 *
 * Plain callbacks: it runs for every stderr chunk (the common chunk holds no record
 * separator and passes through after one `indexOf`).
 *
 * @since 0.1.0
 */
import { STDIN_MARKER } from "./shell.js"

const MARKER = Buffer.from(STDIN_MARKER)
/** The whole line: marker, state digit, newline. */
const LINE = MARKER.length + 2
const RS = MARKER[0]!

/** Whether byte `k` of a marker line may be `b`. */
const fits = (k: number, b: number): boolean =>
  k < MARKER.length ? MARKER[k] === b : k === MARKER.length ? b === 0x30 || b === 0x31 : b === 0x0a

/** How many bytes of a marker line start at `at` (LINE when a whole one does). */
const matched = (buf: Buffer, at: number): number => {
  const end = Math.min(buf.length - at, LINE)
  for (let k = 0; k < end; k++) if (!fits(k, buf[at + k]!)) return -1
  return end
}

export class StdinMarkers {
  private held: Buffer | undefined = undefined

  constructor(private readonly onState: (blocked: boolean) => void) {}

  /** Pass `chunk` on to `emit` without markers, reporting each marker at its place. */
  filter(chunk: Buffer, emit: (piece: Buffer) => void): void {
    if (this.held === undefined && chunk.indexOf(RS) < 0) return emit(chunk)
    const buf = this.held === undefined ? chunk : Buffer.concat([this.held, chunk])
    this.held = undefined
    let from = 0
    for (let at = buf.indexOf(RS); at >= 0; at = buf.indexOf(RS, at + 1)) {
      const n = matched(buf, at)
      if (n < 0) continue
      if (at > from) emit(buf.subarray(from, at))
      if (n < LINE) {
        // The chunk ends inside what may be a marker: wait for the rest.
        this.held = Buffer.from(buf.subarray(at))
        return
      }
      this.onState(buf[at + MARKER.length] === 0x31)
      from = at + LINE
      at = from - 1
    }
    if (from < buf.length) emit(buf.subarray(from))
  }

/** The stream ended: what was held was not a marker after all. */
  flush(emit: (piece: Buffer) => void): void {
    const held = this.held
    this.held = undefined
    if (held !== undefined) emit(held)
  }
}
