import { Effect, Schema } from "effect"
import { jobViewLink } from "../apps/jobView.js"
import { Jobs } from "../../services/Jobs.js"
import { Command, Cwd, Env, IdleTimeoutMs, optionalHost, snakeKeys, Sudo, Text } from "./fields.js"
import { JobStarted, jobStarted } from "./jobFields.js"
import { attachOf, present, viewUrl } from "./jobLinks.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

/** `Jobs.spawn`'s request, as the agent sends it (snake_case). */
const Input = snakeKeys(Schema.Struct({
  command: Command,
  host: optionalHost,
  pty: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Pseudo-terminal: line-buffered, stderr merged into stdout."
  })),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  label: Schema.optionalKey(Text(200)),
  idleTimeoutMs: Schema.optionalKey(IdleTimeoutMs),
  sudo: Schema.optionalKey(Sudo),
  persistent: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Survive disconnects and server restarts. No stdin, pty or sudo."
  })),
  tmux: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run in a tmux session a person can attach to (attach: their command) and type into; output merged; persistent."
  })),
  record: Schema.optionalKey(Schema.Boolean.annotate({ description: "Save an asciicast recording." }))
}))

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
    // A tmux job has a terminal: the policy judges it as a pty job.
    const pty = input.pty === true || input.tmux === true ? true : input.pty
    yield* enforcePolicy(ctx, input.host, { _tag: "Command", command: input.command, envNames: Object.keys(input.env ?? {}), pty })
    const jobs = yield* Jobs
    const job = yield* jobs.spawn(input)
    return { ...jobStarted(job), ...present("attach", yield* attachOf(job)), ...present("viewUrl", yield* viewUrl(job.jobId)) }
  })
})
