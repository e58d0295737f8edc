import { Effect, Schema } from "effect"
import { Exec } from "../../services/Exec.js"
import { Command, Cwd, Env, IdleTimeoutMs, int, NullableInt, NullableString, optionalHost, snakeKeys, Sudo, Text } from "./fields.js"
import { JobStatus } from "../../domain/jobs.js"
import { enforcePolicy } from "./policyGate.js"
import { DEFAULT_REPLY_BYTES, MAX_REPLY_BYTES } from "./replyBudget.js"
import { endWithin } from "../../output/jsonBudget.js"
import * as Tool from "./Tool.js"

/** `Exec.run`'s options, as the agent sends them (snake_case). */
const Input = snakeKeys(Schema.Struct({
  command: Command,
  host: optionalHost,
  timeoutMs: Schema.optionalKey(int(1, 86_400_000).annotate({ description: "Stop it after this long. Default none." })),
  backgroundAfterMs: Schema.optionalKey(int(0, 3_600_000).annotate({
    description: "Hand over as a job after this long; stdin stays open for prompts. Default 45000."
  })),
  maxOutputBytes: Schema.optionalKey(int(1024, MAX_REPLY_BYTES).annotate({ description: "Reply size. Default 16384." })),
  idleTimeoutMs: Schema.optionalKey(IdleTimeoutMs),
  sudo: Schema.optionalKey(Sudo),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  stdin: Schema.optionalKey(Text(10_000_000, "Sent to stdin, then closed.")),
  pty: Schema.optionalKey(Schema.Boolean.annotate({ description: "Pseudo-terminal (stderr merges into stdout)." }))
}))

/** A call hands a command still running over to a job after this long unless told otherwise. */
export const DEFAULT_HAND_OVER_MS = 45_000
/** The prompt keeps at most this much of its end. */
const PROMPT_BYTES = 256
/** What the result's fields other than stdout and stderr take of its budget, at most (the prompt cut to PROMPT_BYTES). */
const FIELDS_BYTES = 768

/** What `Exec.run` returns, as the agent reads it (snake_case). */
const Output = snakeKeys(Schema.Struct({
  host: Schema.String,
  status: JobStatus,
  exitStatus: NullableInt,
  signal: NullableString,
  stdout: Schema.String,
  stderr: Schema.String,
  stdoutBytes: Schema.Int,
  stderrBytes: Schema.Int,
  durationMs: Schema.Int,
  timedOut: Schema.Boolean,
  idleTimedOut: Schema.Boolean,
  jobId: NullableString,
  nextLineNo: NullableInt,
  awaitingInput: Schema.Boolean,
  prompt: NullableString,
  truncated: Schema.Boolean
}))

export const sshExec = Tool.make({
  name: "ssh_exec",
  title: "Run a command and wait",
  description:
    "Run a command and wait: exit_status, stdout, stderr. Still running after background_after_ms (or at a " +
    "prompt then: awaiting_input): status running, job_id and next_line_no for ssh_tail. Past max_output_bytes: " +
    "whole lines of head and tail (truncated) around a line naming the ssh_tail call for the rest. Timeouts " +
    "stop the process group.",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  task: "job",
  handler: Effect.fnUntraced(function*(input, ctx) {
    yield* enforcePolicy(ctx, input.host, {
      _tag: "Command",
      command: input.command,
      envNames: Object.keys(input.env ?? {}),
      pty: input.pty,
      stdin: input.stdin
    })
    const exec = yield* Exec
    // An MCP task (a client with the Tasks extension): after a while its job is listed under
    // the task's id and the call goes on to the end, with no timeout unless one is given.
    const task = ctx.task
    const { maxOutputBytes, ...options } = input
    const r = yield* exec.run({
      ...options,
      // By default a call never outlives a client's 60 s timeout: a command still running by then becomes a job.
      handOverAfterMs: input.backgroundAfterMs === undefined ? DEFAULT_HAND_OVER_MS : undefined,
      returnBytes: (maxOutputBytes ?? DEFAULT_REPLY_BYTES) - FIELDS_BYTES,
      // An MCP task is not handed over: its job is listed under the task's id and the call goes on to the end.
      ...(task !== undefined
        ? {
          jobId: task.jobId,
          listAfterMs: Math.min(task.afterMs, input.backgroundAfterMs ?? task.afterMs),
          onListed: () => task.listed
        }
        : {}),
      onProgress: ctx.wantsProgress ? (lines, newest) => ctx.progress(lines, newest) : undefined
    })
    return { ...r, prompt: r.prompt === null ? null : endWithin(r.prompt, PROMPT_BYTES) }
  })
})
