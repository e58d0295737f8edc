import { Effect, Schema } from "effect"
import { jobViewLink } from "../apps/jobView.js"
import { InvalidArgumentError } from "../../domain/errors.js"
import { StreamChoice, StreamName } from "../../domain/jobs.js"
import { compileUntil, Jobs } from "../../services/Jobs.js"
import { guardLength, int, nonEmpty } from "./fields.js"
import { HostConnected, JobId, jobFields } from "./jobFields.js"
import { DEFAULT_REPLY_BYTES, MAX_REPLY_BYTES } from "./replyBudget.js"
import { tailReply } from "./tailReply.js"
import * as Tool from "./Tool.js"
import { tailText } from "../tailText.js"
import { present, viewUrl } from "./jobLinks.js"

/** What `"host_connected":false` adds to a reply's JSON. */
const HOST_DOWN_BYTES = Buffer.byteLength(`,"host_connected":false`)

/** The longest a tail waits: clients give up on a call near 60 s, and a reply lost to that is output lost. */
export const MAX_WAIT_MS = 45_000

const Input = Schema.Struct({
  job_id: JobId,
  since_line_no: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "Default 0." })),
  last: Schema.optionalKey(int(0, 10_000).annotate({ description: "Newest N lines instead." })),
  wait_ms: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "How long you will wait, ≤ 45000. Default 0." })),
  min_lines: Schema.optionalKey(int(1, 10_000).annotate({
    description: "Reply at this many new lines. Default max_lines."
  })),
  max_lines: Schema.optionalKey(int(1, 10_000).annotate({ description: "Default 500." })),
  max_bytes: Schema.optionalKey(int(1, MAX_REPLY_BYTES).annotate({ description: "Reply size. Default 16384." })),
  stream: Schema.optionalKey(StreamChoice.annotate({ description: "Default both." })),
  until: Schema.optionalKey(
    Schema.String.annotate({ description: "Regex, RE2 syntax: reply at a new line matching it." })
      .check(nonEmpty, guardLength(1000))
  ),
  format: Schema.optionalKey(Schema.Literals(["text", "lines"]).annotate({ description: "lines: {n, stream, text} each." }))
})

const LineOut = Schema.Struct({ n: Schema.Int, stream: StreamName, text: Schema.String })

/**
 * Both forms in one schema (SDK 1.x clients validate results against it): `line_nos`,
 * `matched_line_no` and `text` in the default form, `lines` and `matched` with
 * `format: "lines"`; `note` only when there is something to say.
 */
const Output = Schema.Struct({
  job_id: Schema.String,
  lines: Schema.optionalKey(Schema.Array(LineOut)),
  line_nos: Schema.optionalKey(Schema.String),
  next_line_no: Schema.Int,
  dropped: Schema.Int,
  partial: Schema.String,
  more: Schema.Boolean,
  matched: Schema.optionalKey(Schema.NullOr(LineOut)),
  matched_line_no: Schema.optionalKey(Schema.NullOr(Schema.Int)),
  status: jobFields.status,
  exit_status: jobFields.exitStatus,
  signal: jobFields.signal,
  awaiting_input: Schema.Boolean,
  prompt: jobFields.prompt,
  note: Schema.optionalKey(Schema.String),
  text: Schema.optionalKey(Schema.String),
  /** Only when false: the job's host is down (the tail returned at once). */
  host_connected: HostConnected,
  /** The job's live view page, when the operator serves one (`--view-port`). */
  view_url: Schema.optionalKey(Schema.String)
})

export const sshTail = Tool.make({
  name: "ssh_tail",
  title: "Read a job's new output",
  description:
    "Read a job's lines after since_line_no (pass back next_line_no): text, line_nos (their numbers; e: " +
    "stderr). Replies when wait_ms runs out, or sooner if the job ends, waits at a prompt (awaiting_input: " +
    "answer with ssh_send_stdin), until matches, or min_lines/max_lines/max_bytes is reached. Follow with " +
    "wait_ms 30000 until status is not running; more: call again now.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  meta: jobViewLink,
  input: Input,
  output: Output,
  text: tailText,
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const until = yield* compileUntil(input.until)
    if (input.last !== undefined && input.since_line_no !== undefined) {
      return yield* new InvalidArgumentError({ message: "last: give since_line_no or last, not both" })
    }
    const since = input.since_line_no ?? 0
    const lastLineNo = (yield* jobs.get(input.job_id)).lines.total
    if (since > lastLineNo) {
      return yield* new InvalidArgumentError({
        message: `since_line_no: job '${input.job_id}' has lines 1–${lastLineNo}, so a cursor is 0–${lastLineNo}`,
        hint: "pass the next_line_no of this job's last reply, or last: N for its newest lines"
      })
    }
    const budget = input.max_bytes ?? DEFAULT_REPLY_BYTES
    const maxLines = input.max_lines ?? Math.max(500, input.last ?? 0)
    const waitMs = Math.min(input.wait_ms ?? 0, MAX_WAIT_MS)
    const r = yield* jobs.tail({
      jobId: input.job_id,
      since,
      last: input.last,
      waitMs,
      maxLines,
      // By default a wait is spent whole unless something needs the agent: one turn per wait, not per line.
      minLines: input.min_lines ?? maxLines,
      // The lines' own bytes; the reply's other fields take some of the budget (tailReply fits it exactly).
      maxBytes: Math.max(1, budget - 512),
      stream: input.stream ?? "both",
      until
    })
    const note = waitMs < (input.wait_ms ?? 0)
      ? `wait_ms ${input.wait_ms} was cut to ${MAX_WAIT_MS} (clients give up near 60 s): call again to wait longer`
      : undefined
    // The view link and a down host are said after the rest, within the same budget.
    const url = yield* viewUrl(input.job_id)
    const down = r.job.hostConnected === false ? { host_connected: false } as const : {}
    const extraCost = (url === undefined ? 0 : Buffer.byteLength(JSON.stringify({ view_url: url }))) +
      (r.job.hostConnected === false ? HOST_DOWN_BYTES : 0)
    return {
      ...tailReply(input.job_id, r, { format: input.format ?? "text", budget: Math.max(1, budget - extraCost), note }),
      ...down,
      ...present("view_url", url)
    }
  })
})
