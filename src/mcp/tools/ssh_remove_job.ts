import { Effect, Schema } from "effect"
import { Termination } from "../../domain/jobs.js"
import { Jobs } from "../../services/Jobs.js"
import { JobId, JobState } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshRemoveJob = Tool.make({
  name: "ssh_remove_job",
  title: "Remove a job",
  description:
    "Forget a job and its output. A running job needs force: true, which stops its process group first (TERM, 5 s, KILL).",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    force: Schema.optionalKey(Schema.Boolean)
  }),
  output: Schema.Struct({
    removed: Schema.Boolean,
    terminated: Schema.NullOr(Termination),
    job: JobState
  }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const r = yield* jobs.remove(input.job_id, { force: input.force === true })
    return { removed: true, terminated: r.termination, job: r.job }
  })
})
