/**
 * The job record every job tool returns, and its conversion from `JobInfo`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { JobInfo } from "../services/Jobs.js"
import { NullableInt, NullableString } from "./fields.js"

export const JobId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)).annotate({
  description: "A job id returned by ssh_spawn (or ssh_exec when it handed over to a job)."
})

export const JobStatus = Schema.Literals(["running", "exited", "killed", "failed", "lost"])

export const JobRecord = Schema.Struct({
  job_id: Schema.String,
  host: Schema.String,
  command: Schema.String,
  label: NullableString,
  status: JobStatus.annotate({
    description: "running; exited (exit_status set); killed (by a signal or by us); failed (could not run); lost (connection died)"
  }),
  exit_status: NullableInt,
  signal: NullableString,
  pid: NullableInt.annotate({ description: "Remote PID of the job's shell, also its process group id." }),
  persistent: Schema.Boolean,
  started_at: Schema.String,
  ended_at: NullableString,
  lines: Schema.Struct({ stdout: Schema.Int, stderr: Schema.Int, total: Schema.Int }),
  dropped: Schema.Int.annotate({ description: "Lines evicted from the ring buffer (all readers)." }),
  awaiting_input: Schema.Boolean.annotate({
    description: "The job seems to wait at a prompt (see prompt); answer with ssh_send_stdin."
  }),
  prompt: NullableString,
  end_reason: Schema.NullOr(Schema.Literals(["signal", "timeout", "idle-timeout", "removed", "disconnect", "shutdown"])).annotate({
    description: "Why we stopped it, when we did."
  })
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
  end_reason: j.endReason
})
