import { Effect, Schema } from "effect"
import { Jobs } from "../services/Jobs.js"
import { JobId, JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshRemoveJob = Tool.make({
  name: "ssh_remove_job",
  title: "Remove a job",
  description:
    "Forget a job and its buffered output. A running job is refused (JOB_RUNNING) unless force: true, which stops " +
    "its process group first (TERM, 5 s grace, KILL).",
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    force: Schema.optionalKey(Schema.Boolean.annotate({ description: "Stop a running job first. Default false." }))
  }),
  output: Schema.Struct({
    removed: Schema.Boolean,
    terminated: Schema.NullOr(Schema.Literals(["already-exited", "term", "kill", "abandoned"])).annotate({
      description: "How a running job was stopped: term (ended after TERM), kill (needed KILL), abandoned (channel closed on our side)."
    }),
    job: JobRecord
  }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const r = yield* jobs.remove(input.job_id, { force: input.force === true })
    return { removed: true, terminated: r.termination, job: jobRecord(r.job) }
  })
})
