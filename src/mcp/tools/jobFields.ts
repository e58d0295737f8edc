/**
 * The job record every job tool returns: a `JobInfo`'s fields, which the agent reads in
 * snake_case (`snakeKeys`), its times as ISO strings.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { EndReason, JobStatus } from "../../domain/jobs.js"
import type { JobInfo } from "../../services/Jobs.js"
import { guardLength, nonEmpty, NullableInt, NullableString, snakeKeys } from "./fields.js"

export const JobId = Schema.String.check(nonEmpty, guardLength(100))

/** `host_connected`, said only when false (the job's host is down now), to keep results small. */
export const HostConnected = Schema.optionalKey(Schema.Boolean)

/** A `JobInfo`'s fields as the tools return them. */
export const jobFields = {
  jobId: Schema.String,
  host: Schema.String,
  command: Schema.String,
  label: NullableString,
  status: JobStatus,
  exitStatus: NullableInt,
  signal: NullableString,
  pid: NullableInt,
  persistent: Schema.Boolean,
  startedAt: Schema.DateFromString,
  endedAt: Schema.NullOr(Schema.DateFromString),
  lines: Schema.Struct({ stdout: Schema.Int, stderr: Schema.Int, total: Schema.Int }),
  dropped: Schema.Int,
  awaitingInput: Schema.Boolean,
  prompt: NullableString,
  endReason: Schema.NullOr(EndReason)
}

export const JobRecord = snakeKeys(Schema.Struct({
  ...jobFields,
  hostConnected: HostConnected,
  /** A tmux job's: what a person runs to watch or take over (only then present). */
  attach: Schema.optionalKey(Schema.String)
}))

/** A job as its record has it: `host_connected` only when false. */
export const jobRecord = ({ hostConnected, ...j }: JobInfo) => hostConnected === false ? { ...j, hostConnected } : j

/** A job's state after an action on it (signal, stdin, removal): whether it still runs, and how it ended. */
export const JobState = snakeKeys(Schema.Struct({
  jobId: jobFields.jobId,
  status: jobFields.status,
  exitStatus: jobFields.exitStatus,
  signal: jobFields.signal
}))

/** What `ssh_spawn` returns: the rest of the record is empty at that point (ssh_list_jobs has it all). */
export const JobStarted = snakeKeys(Schema.Struct({
  jobId: jobFields.jobId,
  host: jobFields.host,
  label: jobFields.label,
  status: jobFields.status,
  pid: jobFields.pid,
  persistent: jobFields.persistent,
  startedAt: jobFields.startedAt,
  /** Present when it applies: the tmux attach command, the live view page, the recording. */
  attach: Schema.optionalKey(Schema.String),
  viewUrl: Schema.optionalKey(Schema.String),
  recording: Schema.optionalKey(Schema.String)
}))

/** A started job as `JobStarted` has it: a recording only when there is one. */
export const jobStarted = ({ recording, ...j }: JobInfo) => recording !== null ? { ...j, recording } : j
