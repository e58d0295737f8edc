import { Effect, Schema } from "effect"
import { Jobs } from "../services/Jobs.js"
import { Command, Cwd, Env, int, optionalHost } from "./fields.js"
import { JobRecord, jobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

const Input = Schema.Struct({
  command: Command.annotate({ description: "Shell command, run by the user's login shell on the host." }),
  host: optionalHost,
  pty: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run in a pseudo-terminal: programs line-buffer their output and stderr merges into stdout. " +
      "Use it when output only arrives at the end (Python, many CLIs buffer when not on a terminal). Default false."
  })),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  label: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(200)).annotate({
    description: "A name for the job, shown by ssh_list_jobs."
  })),
  idle_timeout_ms: Schema.optionalKey(int(1, 86_400_000).annotate({
    description: "Stop the job (TERM, 5 s grace, KILL) if it prints nothing for this long; end_reason says idle-timeout."
  })),
  sudo: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run as root via sudo; the password comes from the host's sudo_password_env config (never from you). Default false."
  })),
  persistent: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run detached on the host (setsid nohup, output kept in ~/.cache/mcp-ssh-live/jobs/<job_id>/): it survives " +
      "the connection dropping and this server restarting, and ssh_list_jobs finds it again. No stdin, pty or sudo. Default false."
  }))
})

export const sshSpawn = Tool.make({
  name: "ssh_spawn",
  title: "Start a background job",
  description:
    "Start a long-running command (build, deploy, `tail -f`, a server) and return its job_id at once, without waiting " +
    "for output. Then call ssh_tail with the job_id to read lines as they arrive (pass the returned next_line_no " +
    "each time), ssh_send_stdin to answer prompts, ssh_signal to stop it. " +
    "If output seems stuck until the end, the program buffers: use pty: true or env PYTHONUNBUFFERED=1 / stdbuf -oL.",
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  input: Input,
  output: JobRecord,
  handler: Effect.fnUntraced(function*(input) {
    const jobs = yield* Jobs
    return jobRecord(yield* jobs.spawn({
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
