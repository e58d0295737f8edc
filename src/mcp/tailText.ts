/**
 * The two forms of an `ssh_tail` result, and their text blocks.
 *
 * The default form (`format: "text"`) is what a model reads: the lines as one `text` (joined
 * by "\n") and `line_nos`, their numbers as runs (`1-40,e41-42,43`: `e` marks stderr lines),
 * instead of an object per line. Claude Code and VS Code show the model only the JSON of
 * `structuredContent`; with one object per line that JSON was ~1.9× the output's bytes, this
 * form is about 1.05×. Its text block (what other clients show) is the other fields as JSON on
 * the first line, then the lines as printed.
 *
 * The per-line form (`format: "lines"`: `lines: [{ n, stream, text }]`) is for callers that
 * parse lines (the live view, scripts). Its text block is the other fields as JSON, then one
 * line per output line, `<n> <stream>: <text>`, as the job's resource reads.
 * `parseTailText` reads either text block back.
 *
 * @since 0.3.0
 */

export interface TailLine {
  readonly n: number
  readonly stream: string
  readonly text: string
}

/** The numbers and streams of the first `count` of `lines` as runs of consecutive numbers of one stream: `1-40,e41-42,43`. */
export const lineNos = (lines: ReadonlyArray<Pick<TailLine, "n" | "stream">>, count = lines.length): string => {
  let out = ""
  let i = 0
  while (i < count) {
    const first = lines[i]!
    let j = i
    while (j + 1 < count && lines[j + 1]!.n === lines[j]!.n + 1 && lines[j + 1]!.stream === first.stream) j++
    const mark = first.stream === "stderr" ? "e" : ""
    out += `${out === "" ? "" : ","}${mark}${first.n}${j > i ? `-${lines[j]!.n}` : ""}`
    i = j + 1
  }
  return out
}

const RUN = /^(e?)(\d+)(?:-(\d+))?$/

/** The lines of a default-form result (`text` and `line_nos`); undefined when they do not agree. */
export const linesOf = (text: string, nos: string): Array<TailLine> | undefined => {
  if (nos === "") return text === "" ? [] : undefined
  const texts = text.split("\n")
  const out: Array<TailLine> = []
  for (const run of nos.split(",")) {
    const m = RUN.exec(run)
    if (m === null) return undefined
    const from = Number(m[2])
    const to = m[3] === undefined ? from : Number(m[3])
    if (to < from || to - from > texts.length) return undefined
    for (let n = from; n <= to; n++) {
      if (out.length >= texts.length) return undefined
      out.push({ n, stream: m[1] === "e" ? "stderr" : "stdout", text: texts[out.length]! })
    }
  }
  return out.length === texts.length ? out : undefined
}

/**
 * Render an encoded `ssh_tail` output of either form. A line's text never holds "\n":
 * output is split on it.
 */
export const tailText = (structured: Record<string, unknown>): string => {
  if (Array.isArray(structured.lines)) {
    const { lines, ...rest } = structured as { lines: ReadonlyArray<TailLine> }
    let out = JSON.stringify(rest)
    for (const l of lines) out += `\n${l.n} ${l.stream}: ${l.text}`
    return out
  }
  const { text, ...rest } = structured as { text?: unknown; line_nos?: unknown }
  const head = JSON.stringify(rest)
  return typeof rest.line_nos === "string" && rest.line_nos !== "" ? `${head}\n${String(text ?? "")}` : head
}

const LINE = /^(\d+) (stdout|stderr): /

/**
 * The result a `tailText` text stands for (either form); undefined when it is not one. A
 * per-line text gives `lines`; a default-form text gives `text` and `line_nos` as they were.
 */
export const parseTailText = (text: string): Record<string, unknown> | undefined => {
  const nl = text.indexOf("\n")
  let head: unknown
  try {
    head = JSON.parse(nl < 0 ? text : text.slice(0, nl))
  } catch {
    return undefined
  }
  if (typeof head !== "object" || head === null || Array.isArray(head)) return undefined
  const fields = head as Record<string, unknown>
  if (typeof fields.line_nos === "string") {
    if (fields.line_nos === "") return nl < 0 ? { ...fields, text: "" } : undefined
    const body = nl < 0 ? undefined : text.slice(nl + 1)
    if (body === undefined || linesOf(body, fields.line_nos) === undefined) return undefined
    return { ...fields, text: body }
  }
  const lines: Array<TailLine> = []
  for (const row of nl < 0 ? [] : text.slice(nl + 1).split("\n")) {
    const m = LINE.exec(row)
    if (m === null) return undefined
    lines.push({ n: Number(m[1]), stream: m[2]!, text: row.slice(m[0].length) })
  }
  return { ...fields, lines }
}
