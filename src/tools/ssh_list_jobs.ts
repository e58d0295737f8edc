import { Effect, Schema } from "effect"
import { Jobs } from "../services/Jobs.js"
import { optionalHost } from "./fields.js"
import { JobRecord, jobRecord, JobStatus } from "./jobFields.js"
import * as Tool from "./Tool.js"

export const sshListJobs = Tool.make({
  name: "ssh_list_jobs",
  title: "List jobs",
  description:
    "List jobs (running and recently finished) with status, exit status, line counts and whether they wait for input. " +
    "Filter by host and/or status.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    host: optionalHost.annotate({ description: "Only jobs of this host alias." }),
    status: Schema.optionalKey(JobStatus)
  }),
  output: Schema.Struct({ jobs: Schema.Array(JobRecord) }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    return { jobs: (yield* jobs.list({ host: input.host, status: input.status })).map(jobRecord) }
  })
})
