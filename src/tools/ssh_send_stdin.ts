import { Effect, Schema } from "effect"
import { Jobs } from "../services/Jobs.js"
import { JobId, JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshSendStdin = Tool.make({
  name: "ssh_send_stdin",
  title: "Write to a job's stdin",
  description:
    "Write text to a running job's stdin, e.g. to answer a prompt seen in ssh_tail's partial/prompt. " +
    "Include the newline (\"y\\n\") when the program reads a line. eof: true closes stdin afterwards. " +
    "secret: true keeps the text out of logs and masks its echo in the job's output.",
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    data: Schema.String.check(Schema.isMaxLength(10_000_000)),
    eof: Schema.optionalKey(Schema.Boolean.annotate({ description: "Close stdin after writing. Default false." })),
    secret: Schema.optionalKey(Schema.Boolean.annotate({ description: "The data is a secret (password). Default false." }))
  }),
  output: Schema.Struct({ bytes_written: Schema.Int, eof: Schema.Boolean, job: JobRecord }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const job = yield* jobs.sendStdin(input.job_id, input.data, {
      eof: input.eof === true,
      secret: input.secret === true
    })
    return { bytes_written: Buffer.byteLength(input.data), eof: input.eof === true, job: jobRecord(job) }
  })
})
