import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { HostAlias, int, NullableInt } from "./fields.js"
import { DEFAULT_REPLY_BYTES, pageWithin } from "./replyBudget.js"
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
    host: Schema.optionalKey(HostAlias.annotate({ description: "Only this host's jobs." })),
    status: Schema.optionalKey(JobStatus),
    cursor: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "A reply's next_cursor." }))
  }),
  output: Schema.Struct({ jobs: Schema.Array(JobRecord), next_cursor: NullableInt }),
  handler: Effect.fnUntraced(function*(input) {
    const list = yield* (yield* Jobs).list({ host: input.host, status: input.status })
    const jobs = yield* Effect.forEach(list, (j) => Effect.map(attachOf(j), (attach) => ({ ...jobRecord(j), ...present("attach", attach) })))
    const { page, next_cursor } = pageWithin(jobs, input.cursor ?? 0, DEFAULT_REPLY_BYTES, {})
    return { jobs: page, next_cursor }
  })
})
