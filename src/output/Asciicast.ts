/**
 * A job as an asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/):
 * a header line (JSON: version, width, height, timestamp, title, env), then one JSON
 * array per event: `[seconds since the start, "o", text]` for output (both streams: a
 * terminal shows both) and `[seconds, "i", text]` for what was sent to the job's stdin.
 * `asciinema play` replays it with its timings.
 *
 * Secrets: stdin sent as secret is never written, and output is masked as the job masks
 * its lines (the echo of a secret, a sudo password). A mask can straddle two chunks, so
 * while masks exist the end of each chunk that could begin one is held back until the next
 * chunk (or HOLD_MS). Bytes are decoded as UTF-8 per stream (a character split across
 * chunks is joined).
 *
 * Plain synchronous code on the ingest path; the file is written in batches.
 *
 * @since 0.4.0
 */
import { StringDecoder } from "node:string_decoder"
import type { StreamName } from "../domain/jobs.js"

/** Where the recording goes (a `fs.WriteStream`). */
export interface CastFile {
  write(text: string): boolean
  end(done: () => void): unknown
  readonly writableLength: number
}

export interface CastHeader {
  readonly width: number
  readonly height: number
  /** Unix seconds. */
  readonly timestamp: number
  readonly title?: string | undefined
  readonly command?: string | undefined
}

/** Past this much unwritten text (a disk slower than the job), output events are dropped and counted. */
export const CAST_BACKLOG_LIMIT = 16 * 1024 * 1024
const HOLD_MS = 200
/** What a secret is replaced with (as in the job's lines). */
export const MASK = "********"

const maskAll = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK)
  return out
}

/** Length of the longest end of `text` that is the start of a secret (never a whole one). */
const secretPrefixAtEnd = (text: string, secrets: ReadonlyArray<string>): number => {
  let best = 0
  for (const s of secrets) {
    for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
      if (text.endsWith(s.slice(0, n))) {
        best = n
        break
      }
    }
  }
  return best
}

export class AsciicastWriter {
  private readonly decoders: Record<StreamName, StringDecoder> = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") }
  /** Text before the file is open. */
  private pending: Array<string> = []
  private file: CastFile | undefined
  private held = ""
  private timer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  /** Output events left out because the file fell behind. */
  dropped = 0

  constructor(
    header: CastHeader,
    private readonly now: () => number,
    private readonly startedAt: number,
    /** The secrets to mask now (the job's: secret stdin, a sudo password). */
    private readonly secrets: () => ReadonlyArray<string>
  ) {
    this.emit(JSON.stringify({
      version: 2,
      width: header.width,
      height: header.height,
      timestamp: header.timestamp,
      ...(header.title !== undefined ? { title: header.title } : {}),
      ...(header.command !== undefined ? { command: header.command } : {}),
      env: { TERM: "xterm-256color" }
    }))
  }

  /** The file is open: write what was collected. */
  attach(file: CastFile): void {
    this.file = file
    for (const text of this.pending) file.write(text)
    this.pending = []
  }

  output(stream: StreamName, chunk: Uint8Array): void {
    if (this.closed) return
    const text = this.decoders[stream].write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
    if (text === "") return
    const secrets = this.secrets()
    if (secrets.length === 0) {
      this.flushHeld()
      return this.event("o", text)
    }
    // Complete secrets are masked; the end that could begin one (cut by the chunk boundary) waits.
    const masked = maskAll(this.held + text, secrets)
    const keep = secretPrefixAtEnd(masked, secrets)
    this.held = masked.slice(masked.length - keep)
    const out = masked.slice(0, masked.length - keep)
    if (out !== "") this.event("o", out)
    if (this.held !== "" && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flushHeld()
      }, HOLD_MS)
      this.timer.unref?.()
    }
  }

  /** What was sent to the job's stdin (never call this for secret data). */
  input(text: string): void {
    if (this.closed || text === "") return
    this.flushHeld()
    this.event("i", text)
  }

  /** Write what is held and close the file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.decoders[stream].end()
      if (rest !== "") this.held += rest
    }
    this.flushHeld()
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    const file = this.file
    if (file === undefined) return Promise.resolve()
    return new Promise((resolve) => file.end(() => resolve()))
  }

  private flushHeld(): void {
    if (this.held === "") return
    const text = maskAll(this.held, this.secrets())
    this.held = ""
    this.event("o", text)
  }

  private time(): number {
    return Math.max(0, this.now() - this.startedAt) / 1000
  }

  private event(kind: "o" | "i", text: string): void {
    if (kind === "o" && this.file !== undefined && this.file.writableLength > CAST_BACKLOG_LIMIT) {
      this.dropped++
      return
    }
    this.emit(JSON.stringify([Math.round(this.time() * 1e6) / 1e6, kind, text]))
  }

  private emit(line: string): void {
    if (this.file === undefined) this.pending.push(`${line}\n`)
    else this.file.write(`${line}\n`)
  }
}
