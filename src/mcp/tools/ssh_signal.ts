import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { SignalName } from "../../domain/jobs.js"
import { JobId, JobState, jobState } from "./jobFields.js"
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
  output: Schema.Struct({
    sent_via_channel: Schema.Boolean,
    sent_via_pid: Schema.Boolean,
    job: JobState
  }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const r = yield* jobs.signal(input.job_id, input.signal ?? "TERM")
    return { sent_via_channel: r.sentViaChannel, sent_via_pid: r.sentViaPid, job: jobState(r.job) }
  })
})
