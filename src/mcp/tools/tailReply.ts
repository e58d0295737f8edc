/**
 * `ssh_tail`'s reply within its byte budget (`max_bytes`, default 16 KiB of result JSON, what
 * a model's client receives), in either form (see tailText.ts). Lines are given whole while
 * they fit; the rest is left for the next call (`more`, `next_line_no` on the last line
 * given). A first line that alone does not fit is cut, with a marker saying how much of it
 * is left out, instead of sending up to 64 KiB of one line. The unterminated line and the
 * prompt keep their ends (1 KiB each at most: a prompt's end is what matters).
 *
 * The reply is built in its wire form (snake_case), not renamed from the service's result by
 * Schema as other tools' are: the budget is counted on the JSON a client receives, so the one
 * place that names the fields (`common`) is the one that sizes them. The keys' order is the
 * output schema's (ssh_tail.ts), whatever the order they are built in.
 *
 * @since 0.3.0
 */
import type { Line } from "../../output/RingBuffer.js"
import { headWithin, endWithin, jsonCost } from "../../output/jsonBudget.js"
import type { JobStatus } from "../../domain/jobs.js"
import type { TailResult } from "../../services/Jobs.js"
import { lineNos } from "../tailText.js"

/** `partial` and `prompt` keep at most this much of their end. */
const PARTIAL_BYTES = 1024
/** A line is cut to no less than this, however small the budget left. */
const MIN_LINE_BYTES = 256

export type TailFormat = "text" | "lines"

interface Common {
  readonly next_line_no: number
  readonly dropped: number
  readonly partial: string
  readonly more: boolean
  readonly status: JobStatus
  readonly exit_status: number | null
  readonly signal: string | null
  readonly awaiting_input: boolean
  readonly prompt: string | null
}

export interface TextReply extends Common {
  readonly job_id: string
  readonly line_nos: string
  readonly matched_line_no: number | null
  readonly note?: string
  readonly text: string
}

export interface LinesReply extends Common {
  readonly job_id: string
  readonly lines: ReadonlyArray<Line>
  readonly matched: Line | null
  readonly note?: string
}

const bytes = (o: unknown) => Buffer.byteLength(JSON.stringify(o))

/** The marker ending a cut line: what is left out and how to get it. */
const cutMarker = (left: number) => `…[line cut: ${left} more bytes; a larger max_bytes returns it whole]`

/** The first line cut to cost at most `room` in the reply, marker included. */
const cutLine = (line: Line, room: number, cost: (text: string) => number): Line => {
  const marker = cutMarker(Buffer.byteLength(line.text))
  const keep = headWithin(line.text, Math.max(0, room - (cost("") + jsonCost(marker))))
  return { ...line, text: `${keep}${cutMarker(Buffer.byteLength(line.text) - Buffer.byteLength(keep))}` }
}

/** How many of `n` lines fit `room` when `cost(k)` is what k lines cost (non-decreasing in k). */
const fitting = (n: number, room: number, cost: (k: number) => number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (cost(mid) <= room) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * The reply for `r`, within `budget` bytes of JSON: exactly so, unless the budget is smaller
 * than the reply's other fields and a cut line of `MIN_LINE_BYTES` (a caller's own tiny
 * `max_bytes`), where the one line still comes back.
 */
export const tailReply = (
  jobId: string,
  r: TailResult,
  options: { readonly format: TailFormat; readonly budget: number; readonly note?: string | undefined }
): TextReply | LinesReply => {
  const lines = r.lines
  const note = options.note === undefined ? {} : { note: options.note }
  const partial = endWithin(r.partial, PARTIAL_BYTES)
  const prompt = r.job.prompt === null ? null : endWithin(r.job.prompt, PARTIAL_BYTES)
  /** The fields other than the lines when `taken` are given: all of them (as read), or the first ones. */
  const common = (taken: ReadonlyArray<Line>): Common => {
    const all = taken.length === lines.length || taken.length === 0
    return {
      next_line_no: all ? r.nextLineNo : taken[taken.length - 1]!.n,
      dropped: r.dropped,
      partial,
      more: all ? r.more : true,
      status: r.job.status,
      exit_status: r.job.exitStatus,
      signal: r.job.signal,
      awaiting_input: r.job.awaitingInput,
      prompt
    }
  }
  /** The match, when it is among `taken` (the read stops at it, so it is the last line read). */
  const matched = (taken: ReadonlyArray<Line>): Line | null =>
    r.matched !== null && taken.length > 0 && taken[taken.length - 1]!.n === r.matched.n ? taken[taken.length - 1]! : null
  /** What the first line alone may cost when it does not fit whole. */
  const roomForOne = (base: number) => Math.max(MIN_LINE_BYTES, options.budget - base)

  if (options.format === "lines") {
    const build = (taken: ReadonlyArray<Line>): LinesReply => {
      const c = common(taken)
      return { job_id: jobId, lines: taken, ...c, matched: matched(taken), ...note }
    }
    // The other fields at their largest: the cursor as read, the match as a whole line.
    const base = bytes({ ...build([]), next_line_no: r.nextLineNo, more: false }) + (r.matched === null ? 0 : bytes(r.matched))
    const each = (i: number) => bytes(lines[i]) + (i > 0 ? 1 : 0)
    const sums = prefix(lines.map((_, i) => each(i)))
    const k = fitting(lines.length, options.budget - base, (k) => sums[k]!)
    if (k > 0 || lines.length === 0) return build(lines.slice(0, k))
    const room = roomForOne(base)
    return build([each(0) <= room ? lines[0]! : cutLine(lines[0]!, room, (text) => bytes({ ...lines[0]!, text }))])
  }

  const build = (taken: ReadonlyArray<Line>, text = taken.map((l) => l.text).join("\n"), nos = lineNos(taken)): TextReply => {
    const m = matched(taken)
    return {
      job_id: jobId,
      line_nos: nos,
      ...common(taken),
      matched_line_no: m === null ? null : m.n,
      ...note,
      text
    }
  }
  // The other fields at their largest: the cursor as read, the match as a line number (or null).
  const base = bytes({ ...build([]), next_line_no: r.nextLineNo, more: false, matched_line_no: Math.max(r.nextLineNo, 1000) })
  // Most often all that was read fits (the read is capped near the budget): one join and one
  // cost (a "\n" costs 2 in JSON, as between the lines' own costs below), no search.
  const whole = r.text ?? lines.map((l) => l.text).join("\n")
  const wholeNos = lineNos(lines)
  if (jsonCost(whole) + wholeNos.length <= options.budget - base) return build(lines, whole, wholeNos)
  const sums = prefix(lines.map((l, i) => jsonCost(l.text) + (i > 0 ? 2 : 0)))
  const cost = (k: number) => sums[k]! + lineNos(lines, k).length
  const k = fitting(lines.length, options.budget - base, cost)
  if (k > 0 || lines.length === 0) return build(lines.slice(0, k))
  const room = roomForOne(base + lineNos(lines, 1).length)
  return build([jsonCost(lines[0]!.text) <= room ? lines[0]! : cutLine(lines[0]!, room, jsonCost)])
}

const prefix = (xs: ReadonlyArray<number>): Array<number> => {
  const out = [0]
  for (const x of xs) out.push(out[out.length - 1]! + x)
  return out
}
