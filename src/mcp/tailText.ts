/**
 * The text block of an `ssh_tail` result: the result's other fields as JSON on the first
 * line, then one line per output line, `<n> <stream>: <text>`, as the job's resource reads.
 * Clients that show the model only the text give it the lines as they were printed, not
 * escaped inside JSON (about half the bytes, and fewer tokens); `parseTailText` reads it back.
 *
 * @since 0.3.0
 */

interface TailLine {
  readonly n: number
  readonly stream: string
  readonly text: string
}

/** Render an encoded `ssh_tail` output. A line's text never holds "\n": output is split on it. */
export const tailText = (structured: Record<string, unknown>): string => {
  const { lines, ...rest } = structured as { lines?: ReadonlyArray<TailLine> }
  let out = JSON.stringify(rest)
  for (const l of lines ?? []) out += `\n${l.n} ${l.stream}: ${l.text}`
  return out
}

const LINE = /^(\d+) (stdout|stderr): /

/** The fields and lines of a `tailText` text; undefined when it is not one. */
export const parseTailText = (text: string): Record<string, unknown> | undefined => {
  const rows = text.split("\n")
  let head: unknown
  try {
    head = JSON.parse(rows[0]!)
  } catch {
    return undefined
  }
  if (typeof head !== "object" || head === null || Array.isArray(head)) return undefined
  const lines: Array<TailLine> = []
  for (const row of rows.slice(1)) {
    const m = LINE.exec(row)
    if (m === null) return undefined
    lines.push({ n: Number(m[1]), stream: m[2]!, text: row.slice(m[0].length) })
  }
  return { ...head, lines }
}
