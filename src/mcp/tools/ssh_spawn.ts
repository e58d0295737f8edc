import { Effect, Schema } from "effect"
import { jobViewLink } from "../apps/jobView.js"
import { Jobs } from "../../services/Jobs.js"
import { Command, Cwd, Env, IdleTimeoutMs, optionalHost, Sudo, Text } from "./fields.js"
import { JobStarted, jobStarted } from "./jobFields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

const Input = Schema.Struct({
  command: Command,
  host: optionalHost,
  pty: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Pseudo-terminal: line-buffered, stderr merged into stdout."
  })),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  label: Schema.optionalKey(Text(200)),
  idle_timeout_ms: Schema.optionalKey(IdleTimeoutMs),
  sudo: Schema.optionalKey(Sudo),
  persistent: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Survive disconnects and server restarts. No stdin, pty or sudo."
  }))
})

export const sshSpawn = Tool.make({
  name: "ssh_spawn",
  title: "Start a background job",
  description:
    "Run a long command as a job; returns its job_id at once. Read output with ssh_tail, answer " +
    "prompts with ssh_send_stdin, stop with ssh_signal. Output only at the end means buffering: use pty: true.",
  annotations: { destructiveHint: true, openWorldHint: true },
  meta: jobViewLink,
  input: Input,
  output: JobStarted,
  handler: Effect.fnUntraced(function*(input, ctx) {
    yield* enforcePolicy(ctx, input.host, { _tag: "Command", command: input.command, envNames: Object.keys(input.env ?? {}), pty: input.pty })
    const jobs = yield* Jobs
    return jobStarted(yield* jobs.spawn({
      host: input.host,
      command: input.command,
      pty: input.pty,
      env: input.env,
      cwd: input.cwd,
      label: input.label,
      idleTimeoutMs: input.idle_timeout_ms,
      sudo: input.sudo,
      persistent: input.persistent
    }))
  })
})
