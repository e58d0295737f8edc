import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { JobId, JobState, jobState } from "./jobFields.js"
import { Text } from "./fields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

export const sshSendStdin = Tool.make({
  name: "ssh_send_stdin",
  title: "Write to a job's stdin",
  description:
    "Write to a running job's stdin, e.g. to answer its prompt; include the newline (\"y\\n\") for a line. " +
    "Returns the job's state after.",
  annotations: { destructiveHint: false, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    data: Text(10_000_000),
    eof: Schema.optionalKey(Schema.Boolean.annotate({ description: "Close stdin afterwards." })),
    secret: Schema.optionalKey(Schema.Boolean.annotate({ description: "A password: kept out of logs, its echo masked." }))
  }),
  output: Schema.Struct({ bytes_written: Schema.Int, eof: Schema.Boolean, job: JobState }),
  handler: Effect.fnUntraced(function*(input, ctx) {
    const jobs = yield* Jobs
    const target = yield* jobs.get(input.job_id)
    yield* enforcePolicy(ctx, target.host, { _tag: "Stdin", jobCommand: target.command, data: input.data, secret: input.secret })
    const job = yield* jobs.sendStdin(input.job_id, input.data, {
      eof: input.eof === true,
      secret: input.secret === true
    })
    return { bytes_written: Buffer.byteLength(input.data), eof: input.eof === true, job: jobState(job) }
  })
})
