import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { Name } from "./fields.js"
import { JobStatus } from "../../domain/jobs.js"
import { JobRecord, jobRecord } from "./jobFields.js"
import { attachOf, present } from "./jobLinks.js"
import * as Tool from "./Tool.js"

export const sshListJobs = Tool.make({
  name: "ssh_list_jobs",
  title: "List jobs",
  description:
    "List jobs, running and recently finished: status, exit status, line counts, whether one waits at a prompt.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    host: Schema.optionalKey(Name(255, "Only this host's jobs.")),
    status: Schema.optionalKey(JobStatus)
  }),
  output: Schema.Struct({ jobs: Schema.Array(JobRecord) }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const list = yield* jobs.list({ host: input.host, status: input.status })
    return { jobs: yield* Effect.forEach(list, (j) => Effect.map(attachOf(j), (attach) => ({ ...jobRecord(j), ...present("attach", attach) }))) }
  })
})
