/**
 * Versions of one screen, so that a reader can ask what changed since the version it last
 * saw and get only the rows that differ. A new version is made when a read finds the rows
 * or the cursor changed; the last HISTORY versions are kept to diff against (older ones
 * get the whole screen again).
 *
 * @since 0.4.0
 */

/** Versions kept to answer "what changed since N". */
export const HISTORY = 16

export interface ScreenRead {
  /** The version of what is shown now. */
  readonly version: number
  /**
   * The rows that differ from version `since`, by 0-based index; undefined when `since` was
   * not given or is no longer (or never was) known: then the whole screen is the answer.
   */
  readonly changed: Readonly<Record<string, string>> | undefined
}

interface Kept {
  readonly version: number
  readonly lines: ReadonlyArray<string>
  readonly cursor: string
}

export class ScreenVersions {
  private kept: Array<Kept> = []
  private version = 0

  /** Record what the screen shows now; returns its version and, given `since`, what changed since then. */
  read(lines: ReadonlyArray<string>, cursor: { readonly row: number; readonly col: number }, since?: number): ScreenRead {
    const at = `${cursor.row},${cursor.col}`
    const last = this.kept.at(-1)
    if (last === undefined || last.cursor !== at || !sameLines(last.lines, lines)) {
      this.version++
      this.kept.push({ version: this.version, lines: [...lines], cursor: at })
      if (this.kept.length > HISTORY) this.kept.shift()
    }
    if (since === undefined) return { version: this.version, changed: undefined }
    const base = this.kept.find((k) => k.version === since)
    if (base === undefined) return { version: this.version, changed: undefined }
    const changed: Record<string, string> = {}
    const n = Math.max(base.lines.length, lines.length)
    for (let i = 0; i < n; i++) {
      const now = lines[i] ?? ""
      if ((base.lines[i] ?? "") !== now) changed[String(i)] = now
    }
    return { version: this.version, changed }
  }
}

const sameLines = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((l, i) => l === b[i])
