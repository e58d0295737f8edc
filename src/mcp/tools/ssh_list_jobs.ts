import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { Name, NullableInt, NullableString } from "./fields.js"
import { JobStatus } from "../../domain/jobs.js"
import { JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

/** Tombstones shown per call, newest first (more are kept: a job tool given the id tells its end). */
const REAPED_SHOWN = 20

/** What a reaped job left: how it ended, when, and how much it printed. */
const Reaped = Schema.Struct({
  job_id: Schema.String,
  host: Schema.String,
  label: NullableString,
  status: JobStatus,
  exit_status: NullableInt,
  signal: NullableString,
  ended_at: Schema.String,
  lines: Schema.Int
})

export const sshListJobs = Tool.make({
  name: "ssh_list_jobs",
  title: "List jobs",
  description:
    "List jobs, running and recently finished: status, exit status, line counts, whether one waits at a prompt. " +
    "Finished jobs are dropped 600 s (reap_finished_after_sec) after they end; reaped tells how they ended.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    host: Schema.optionalKey(Name(255, "Only this host's jobs.")),
    status: Schema.optionalKey(JobStatus)
  }),
  output: Schema.Struct({ jobs: Schema.Array(JobRecord), reaped: Schema.optionalKey(Schema.Array(Reaped)) }),
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    const filter = { host: input.host, status: input.status }
    const listed = (yield* jobs.list(filter)).map(jobRecord)
    const reaped = (yield* jobs.reaped(filter)).slice(0, REAPED_SHOWN).map((t) => ({
      job_id: t.jobId,
      host: t.host,
      label: t.label,
      status: t.status,
      exit_status: t.exitStatus,
      signal: t.signal,
      ended_at: t.endedAt.toISOString(),
      lines: t.lines
    }))
    return reaped.length === 0 ? { jobs: listed } : { jobs: listed, reaped }
  })
})
