import { Effect, Schema } from "effect"
import { Jobs } from "../services/Jobs.js"
import { SIGNALS } from "../ssh/shell.js"
import { JobId, JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshSignal = Tool.make({
  name: "ssh_signal",
  title: "Signal a job",
  description:
    "Send a signal to a running job's whole process group (the command and everything it started). " +
    "TERM asks it to stop, INT is Ctrl-C, KILL forces it, STOP/CONT pause and resume, HUP/USR1/USR2 often reload. " +
    "Returns how it was delivered and the job's status observed right after.",
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    signal: Schema.optionalKey(Schema.Literals(SIGNALS).annotate({ description: "Default TERM." }))
  }),
  output: Schema.Struct({
    sent_via_channel: Schema.Boolean.annotate({ description: "Delivered as an SSH signal request to the job's shell." }),
    sent_via_pid: Schema.Boolean.annotate({ description: "Delivered with kill to the job's process group." }),
    job: JobRecord
  }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const r = yield* jobs.signal(input.job_id, input.signal ?? "TERM")
    return { sent_via_channel: r.sentViaChannel, sent_via_pid: r.sentViaPid, job: jobRecord(r.job) }
  })
})
