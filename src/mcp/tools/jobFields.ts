/**
 * The job record every job tool returns, and its conversion from `JobInfo`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { EndReason, JobStatus } from "../../domain/jobs.js"
import type { JobInfo } from "../../services/Jobs.js"
import { guardLength, nonEmpty, NullableInt, NullableString } from "./fields.js"

export const JobId = Schema.String.check(nonEmpty, guardLength(100))

/** `host_connected`, said only when false (the job's host is down now), to keep results small. */
export const HostConnected = Schema.optionalKey(Schema.Boolean)

export const hostNote = (j: JobInfo): { host_connected?: false } => j.hostConnected === false ? { host_connected: false } : {}

export const JobRecord = Schema.Struct({
  job_id: Schema.String,
  host: Schema.String,
  command: Schema.String,
  label: NullableString,
  status: JobStatus,
  exit_status: NullableInt,
  signal: NullableString,
  pid: NullableInt,
  persistent: Schema.Boolean,
  started_at: Schema.String,
  ended_at: NullableString,
  lines: Schema.Struct({ stdout: Schema.Int, stderr: Schema.Int, total: Schema.Int }),
  dropped: Schema.Int,
  awaiting_input: Schema.Boolean,
  prompt: NullableString,
  end_reason: Schema.NullOr(EndReason),
  host_connected: HostConnected,
  /** A tmux job's: what a person runs to watch or take over (only then present). */
  attach: Schema.optionalKey(Schema.String)
})

/** A job's state after an action on it (signal, stdin, removal): whether it still runs, and how it ended. */
export const JobState = Schema.Struct({
  job_id: Schema.String,
  status: JobStatus,
  exit_status: NullableInt,
  signal: NullableString
})

export const jobState = (j: JobInfo): typeof JobState.Type => ({
  job_id: j.jobId,
  status: j.status,
  exit_status: j.exitStatus,
  signal: j.signal
})

/** What `ssh_spawn` returns: the rest of the record is empty at that point (ssh_list_jobs has it all). */
export const JobStarted = Schema.Struct({
  job_id: Schema.String,
  host: Schema.String,
  label: NullableString,
  status: JobStatus,
  pid: NullableInt,
  persistent: Schema.Boolean,
  started_at: Schema.String,
  /** Present when it applies: the tmux attach command, the live view page, the recording. */
  attach: Schema.optionalKey(Schema.String),
  view_url: Schema.optionalKey(Schema.String),
  recording: Schema.optionalKey(Schema.String)
})

export const jobStarted = (j: JobInfo): typeof JobStarted.Type => ({
  job_id: j.jobId,
  host: j.host,
  label: j.label,
  status: j.status,
  pid: j.pid,
  persistent: j.persistent,
  started_at: j.startedAt.toISOString(),
  ...(j.recording !== null ? { recording: j.recording } : {})
})

export const jobRecord = (j: JobInfo): typeof JobRecord.Type => ({
  job_id: j.jobId,
  host: j.host,
  command: j.command,
  label: j.label,
  status: j.status,
  exit_status: j.exitStatus,
  signal: j.signal,
  pid: j.pid,
  persistent: j.persistent,
  started_at: j.startedAt.toISOString(),
  ended_at: j.endedAt === null ? null : j.endedAt.toISOString(),
  lines: j.lines,
  dropped: j.dropped,
  awaiting_input: j.awaitingInput,
  prompt: j.prompt,
  end_reason: j.endReason,
  ...hostNote(j)
})
