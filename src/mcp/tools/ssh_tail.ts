import { Effect, Schema } from "effect"
import { jobViewLink } from "../apps/jobView.js"
import { StreamChoice, StreamName } from "../../domain/jobs.js"
import { compileUntil, Jobs } from "../../services/Jobs.js"
import { guardLength, int, nonEmpty } from "./fields.js"
import { HostConnected, hostNote, JobId, JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"
import { tailText } from "../tailText.js"

const Input = Schema.Struct({
  job_id: JobId,
  since_line_no: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "Default 0." })),
  wait_ms: Schema.optionalKey(int(0, 60_000).annotate({ description: "How long you will wait. Default 0." })),
  min_lines: Schema.optionalKey(int(1, 10_000).annotate({
    description: "Reply at this many new lines. Default max_lines."
  })),
  max_lines: Schema.optionalKey(int(1, 10_000).annotate({ description: "Default 500." })),
  max_bytes: Schema.optionalKey(int(1, 1_048_576).annotate({ description: "Default 65536." })),
  stream: Schema.optionalKey(StreamChoice.annotate({ description: "Default both." })),
  until: Schema.optionalKey(
    Schema.String.annotate({ description: "Regex, RE2 syntax: reply at a new line matching it (matched)." })
      .check(nonEmpty, guardLength(1000))
  )
})

const LineOut = Schema.Struct({ n: Schema.Int, stream: StreamName, text: Schema.String })

const Output = Schema.Struct({
  job_id: Schema.String,
  lines: Schema.Array(LineOut),
  next_line_no: Schema.Int,
  dropped: Schema.Int,
  partial: Schema.String,
  more: Schema.Boolean,
  matched: Schema.NullOr(LineOut),
  status: JobRecord.fields.status,
  exit_status: JobRecord.fields.exit_status,
  signal: JobRecord.fields.signal,
  awaiting_input: Schema.Boolean,
  prompt: JobRecord.fields.prompt,
  host_connected: HostConnected
})

export const sshTail = Tool.make({
  name: "ssh_tail",
  title: "Read a job's new output",
  description:
    "Read a job's lines after since_line_no (pass back the reply's next_line_no). Replies when wait_ms " +
    "runs out, or sooner if the job ends, waits at a prompt (awaiting_input: answer with ssh_send_stdin), until " +
    "matches, or min_lines/max_lines/max_bytes is reached. Follow with wait_ms 30000 until status is not " +
    "running; more: call again now.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  meta: jobViewLink,
  input: Input,
  output: Output,
  text: tailText,
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const until = yield* compileUntil(input.until)
    const maxLines = input.max_lines ?? 500
    const r = yield* jobs.tail({
      jobId: input.job_id,
      since: input.since_line_no ?? 0,
      waitMs: input.wait_ms ?? 0,
      maxLines,
      // By default a wait is spent whole unless something needs the agent: one turn per wait, not per line.
      minLines: input.min_lines ?? maxLines,
      maxBytes: input.max_bytes ?? 65_536,
      stream: input.stream ?? "both",
      until
    })
    const job = jobRecord(r.job)
    return {
      job_id: input.job_id,
      lines: r.lines,
      next_line_no: r.nextLineNo,
      dropped: r.dropped,
      partial: r.partial,
      more: r.more,
      matched: r.matched,
      status: job.status,
      exit_status: job.exit_status,
      signal: job.signal,
      awaiting_input: job.awaiting_input,
      prompt: job.prompt,
      ...hostNote(r.job)
    }
  })
})
