import { Effect, Schema } from "effect"
import { JobStatus } from "../../domain/jobs.js"
import { Jobs, type Screen } from "../../services/Jobs.js"
import { int } from "./fields.js"
import { JobId } from "./jobFields.js"
import * as Tool from "./Tool.js"

/** A screen's text stays well inside the 16 KiB result budget (a full screen of 3-byte characters would not). */
export const SCREEN_BUDGET_BYTES = 14_000

const Output = Schema.Struct({
  job_id: Schema.String,
  status: JobStatus,
  version: Schema.Int,
  /** `<cols>x<rows>`. */
  size: Schema.String,
  /** 0-based. */
  cursor: Schema.Struct({ row: Schema.Int, col: Schema.Int }),
  /** The whole screen, rows joined by \n (trailing blank rows left out); null when `changed` answers. */
  screen: Schema.NullOr(Schema.String),
  /** With since_version: the rows changed since then, by 0-based row; null when `screen` answers. */
  changed: Schema.NullOr(Schema.Record(Schema.String, Schema.String))
})

/** The rows as one text: trailing blank rows dropped; cut (and said so) past the budget. */
export const screenText = (lines: ReadonlyArray<string>): string => {
  let end = lines.length
  while (end > 0 && lines[end - 1] === "") end--
  const kept: Array<string> = []
  let bytes = 0
  for (let i = 0; i < end; i++) {
    bytes += Buffer.byteLength(lines[i]!) + 1
    if (bytes > SCREEN_BUDGET_BYTES) {
      kept.push(`… rows ${i}-${end - 1} left out (result budget): ask again with since_version for the changed rows`)
      break
    }
    kept.push(lines[i]!)
  }
  return kept.join("\n")
}

/** The tool's result for `s`. */
export const screenOutput = (jobId: string, status: JobStatus, s: Screen): typeof Output.Type => ({
  job_id: jobId,
  status,
  version: s.version,
  size: `${s.cols}x${s.rows}`,
  cursor: s.cursor,
  screen: s.changed === undefined ? screenText(s.lines) : null,
  changed: s.changed ?? null
})

export const sshScreen = Tool.make({
  name: "ssh_screen",
  title: "Read a terminal job's screen",
  description:
    "The current screen of a terminal job (pty: true, tmux: true, or a followed pane) as text, for programs " +
    "that redraw (top, less, vim, menus): rows, cursor, version. Pass since_version for only the rows changed since. " +
    "Drive them with ssh_send_stdin keys.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    job_id: JobId,
    since_version: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER))
  }),
  output: Output,
  // The rows as printed, after the other fields: easier to read than an escaped JSON string.
  text: (structured) => {
    const { screen, ...rest } = structured as { screen?: string | null }
    return screen === null || screen === undefined ? JSON.stringify(structured) : `${JSON.stringify(rest)}\n${screen}`
  },
  handler: Effect.fnUntraced(function*(input) {
    const r = yield* (yield* Jobs).screen(input.job_id, input.since_version)
    return screenOutput(input.job_id, r.job.status, r.screen)
  })
})
