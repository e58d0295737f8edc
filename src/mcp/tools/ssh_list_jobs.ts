import { Effect, Schema } from "effect"
import { Jobs, tombstoneLine } from "../../services/Jobs.js"
import { HostAlias, int, NullableInt } from "./fields.js"
import { DEFAULT_REPLY_BYTES, pageWithin } from "./replyBudget.js"
import { JobStatus } from "../../domain/jobs.js"
import { JobRecord, jobRecord } from "./jobFields.js"

const encodeRecord = Schema.encodeSync(JobRecord)
import { attachOf, present } from "./jobLinks.js"
import * as Tool from "./Tool.js"

/** Tombstones shown with the first page, newest first (more are kept: a job tool given the id tells its end). */
const REAPED_SHOWN = 20

export const sshListJobs = Tool.make({
  name: "ssh_list_jobs",
  title: "List jobs",
  description:
    "List jobs, running and recently finished: status, exit status, line counts, whether one waits at a prompt. " +
    "Finished ones go after 600 s (then see reaped).",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    host: Schema.optionalKey(HostAlias.annotate({ description: "Only this host's jobs." })),
    status: Schema.optionalKey(JobStatus),
    cursor: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "A reply's next_cursor." }))
  }),
  output: Schema.Struct({ jobs: Schema.Array(JobRecord), next_cursor: NullableInt, reaped: Schema.optionalKey(Schema.Array(Schema.String)) }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const filter = { host: input.host, status: input.status }
    const listed = yield* Effect.forEach(yield* jobs.list(filter), (j) => Effect.map(attachOf(j), (attach) => ({ ...jobRecord(j), ...present("attach", attach) })))
    const cursor = input.cursor ?? 0
    // Tombstones come with the first page, within its budget.
    const reaped = cursor > 0 ? [] : (yield* jobs.reaped(filter)).slice(0, REAPED_SHOWN).map(tombstoneLine)
    const rest = reaped.length === 0 ? {} : { reaped }
    // Paged by the size of what is sent (snake_case keys, ISO times).
    const { page, next_cursor } = pageWithin(listed.map((j) => encodeRecord(j)), cursor, DEFAULT_REPLY_BYTES, rest)
    return { jobs: listed.slice(cursor, cursor + page.length), next_cursor, ...rest }
  })
})
