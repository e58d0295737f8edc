import { Effect, Schema } from "effect"
import { compileUntil, Jobs } from "../services/Jobs.js"
import { int } from "./fields.js"
import { JobId, JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

const Stream = Schema.Literals(["both", "stdout", "stderr"])

const Input = Schema.Struct({
  job_id: JobId,
  since_line_no: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({
    description: "Cursor: return lines numbered above this. Pass the next_line_no of the previous reply. Default 0 (from the oldest kept line)."
  })),
  wait_ms: Schema.optionalKey(int(0, 60_000).annotate({
    description: "Wait up to this long for a new line (or the job's end, or a prompt) before replying. Default 0 (reply at once). Use 5000–30000 to follow a job."
  })),
  max_lines: Schema.optionalKey(int(1, 10_000).annotate({ description: "Default 500." })),
  max_bytes: Schema.optionalKey(int(1, 1_048_576).annotate({ description: "Default 65536." })),
  stream: Schema.optionalKey(Stream.annotate({ description: "Default both." })),
  until: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1000)).annotate({
    description: "Regular expression, RE2 syntax: keep waiting (up to wait_ms) until a new line matches, then reply with the lines up to it."
  }))
})

const LineOut = Schema.Struct({ n: Schema.Int, stream: Schema.Literals(["stdout", "stderr"]), text: Schema.String })

const Output = Schema.Struct({
  job_id: Schema.String,
  lines: Schema.Array(LineOut),
  next_line_no: Schema.Int.annotate({ description: "Pass as since_line_no next time." }),
  dropped: Schema.Int.annotate({ description: "Lines after your cursor that were evicted before you read them." }),
  partial: Schema.String.annotate({ description: "The current unterminated line (e.g. a prompt)." }),
  more: Schema.Boolean.annotate({ description: "True when max_lines/max_bytes cut the reply: call again at once." }),
  matched: Schema.NullOr(LineOut),
  status: JobRecord.fields.status,
  exit_status: JobRecord.fields.exit_status,
  signal: JobRecord.fields.signal,
  awaiting_input: Schema.Boolean,
  prompt: JobRecord.fields.prompt
})

export const sshTail = Tool.make({
  name: "ssh_tail",
  title: "Read a job's new output",
  description:
    "Read a job's output lines after a cursor, optionally waiting for new ones. Each line has a number n; pass " +
    "next_line_no as since_line_no on the next call so nothing is read twice or missed. Replies as soon as there is at " +
    "least one new line, the job ends, it waits at a prompt (awaiting_input, prompt), or wait_ms passes. " +
    "With until, waits for a matching line instead. status/exit_status tell when it is done. " +
    "The server keeps the last 10000 lines per stream; dropped counts what you missed.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Input,
  output: Output,
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const until = yield* compileUntil(input.until)
    const r = yield* jobs.tail({
      jobId: input.job_id,
      since: input.since_line_no ?? 0,
      waitMs: input.wait_ms ?? 0,
      maxLines: input.max_lines ?? 500,
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
      prompt: job.prompt
    }
  })
})
