import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { SignalName } from "../../domain/jobs.js"
import { snakeKeys } from "./fields.js"
import { JobId, JobState } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshSignal = Tool.make({
  name: "ssh_signal",
  title: "Signal a job",
  description:
    "Signal a job's whole process group: TERM stops, INT is Ctrl-C, KILL forces, STOP/CONT pause and resume, " +
    "HUP/USR1/USR2 often reload; detached jobs too (via PID).",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    signal: Schema.optionalKey(SignalName.annotate({ description: "Default TERM." }))
  }),
  // What `Jobs.signal` returns, as the agent reads it (snake_case).
  output: snakeKeys(Schema.Struct({
    sentViaChannel: Schema.Boolean,
    sentViaPid: Schema.Boolean,
    job: JobState
  })),
  handler: Effect.fnUntraced(function*(input) {
    return yield* (yield* Jobs).signal(input.job_id, input.signal ?? "TERM")
  })
})
