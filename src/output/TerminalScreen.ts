/**
 * A terminal job's screen as text, rendered by a headless terminal emulator
 * (`@xterm/headless`: xterm.js without a DOM, the parser and buffer of VS Code's terminal)
 * from the raw bytes the job printed (a `ByteTail`).
 *
 * Lazy: nothing is parsed while nobody asks. Each `render` feeds the emulator the bytes
 * printed since the previous one; when the tail no longer holds them all (more than its
 * cap was printed in between), the emulator starts over from what the tail holds, which
 * for a full-screen program (top, vim, less, a menu) holds its latest redraws. So a job
 * that prints gigabytes costs a copy per chunk, and parsing only when its screen is read.
 *
 * The emulator module is loaded on first use, so that the library entry does not load it.
 *
 * @since 0.4.0
 */
import type { ByteTail } from "./ByteTail.js"

/** What a screen shows now. */
export interface ScreenSnapshot {
  readonly cols: number
  readonly rows: number
  /** Each row's text, trailing blanks removed. */
  readonly lines: ReadonlyArray<string>
  /** 0-based. */
  readonly cursor: { readonly row: number; readonly col: number }
  /** Arrow keys must be sent in application mode (`ESC O A`): the program asked for it (DECCKM). */
  readonly applicationCursor: boolean
}

type Xterm = typeof import("@xterm/headless")
type Terminal = InstanceType<Xterm["Terminal"]>

let loaded: Promise<Xterm> | undefined
// A CommonJS package: its exports are the default export of the ES module namespace.
const xterm = (): Promise<Xterm> => (loaded ??= import("@xterm/headless").then((m) => m.default))

export class TerminalScreen {
  private term: Terminal | undefined
  /** Absolute offset in the tail up to which the emulator has been fed. */
  private fed = 0
  /** Renders run one after the other (each feeds the bytes after the previous one). */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly tail: ByteTail, readonly cols: number, readonly rows: number) {}

  /** Feed what was printed since the last render, then read the screen. */
  render(): Promise<ScreenSnapshot> {
    const next = this.queue.then(() => this.renderNow())
    this.queue = next.catch(() => undefined)
    return next
  }

  private async renderNow(): Promise<ScreenSnapshot> {
    const { Terminal } = await xterm()
    let bytes = this.term === undefined ? undefined : this.tail.since(this.fed)
    if (this.term === undefined || bytes === undefined) {
      this.term?.dispose()
      this.term = new Terminal({ cols: this.cols, rows: this.rows, scrollback: 0, allowProposedApi: true })
      bytes = this.tail.all()
    }
    this.fed = this.tail.total
    const term = this.term
    if (bytes.length > 0) await new Promise<void>((resolve) => term.write(bytes, resolve))
    const buffer = term.buffer.active
    const lines: Array<string> = []
    for (let y = 0; y < this.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "")
    return {
      cols: this.cols,
      rows: this.rows,
      lines,
      cursor: { row: buffer.cursorY, col: buffer.cursorX },
      applicationCursor: term.modes.applicationCursorKeysMode
    }
  }

  dispose(): void {
    this.term?.dispose()
    this.term = undefined
  }
}
