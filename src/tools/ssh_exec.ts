import { Effect, Schema } from "effect"
import { Exec } from "../services/Exec.js"
import { Command, Cwd, Env, int, NullableInt, NullableString, optionalHost } from "./fields.js"
import { JobRecord } from "./jobFields.js"
import * as Tool from "./Tool.js"

const Input = Schema.Struct({
  command: Command.annotate({ description: "Shell command, run by the user's login shell on the host." }),
  host: optionalHost,
  timeout_ms: Schema.optionalKey(int(1, 86_400_000).annotate({
    description: "Stop the command (TERM to its process group, 5 s grace, then KILL) after this long. " +
      "Default 60000; no default when background_after_ms is set."
  })),
  background_after_ms: Schema.optionalKey(int(0, 3_600_000).annotate({
    description: "If the command still runs after this long, return at once with status \"running\", a job_id, the " +
      "output so far and next_line_no; it goes on as a job (ssh_tail from next_line_no, ssh_signal, ssh_send_stdin). " +
      "Use 20000–45000 for anything that might be slow (builds, installs, tests)."
  })),
  idle_timeout_ms: Schema.optionalKey(int(1, 86_400_000).annotate({
    description: "Stop the command if it prints nothing for this long (catches hangs without killing slow but healthy work)."
  })),
  sudo: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run as root via sudo; the password comes from the host's sudo_password_env config (never from you). Default false."
  })),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  stdin: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(10_000_000)).annotate({
    description: "Text written to the command's stdin, which is then closed."
  })),
  pty: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Run in a pseudo-terminal (stderr merges into stdout). Default false."
  }))
})

const Output = Schema.Struct({
  host: Schema.String,
  status: JobRecord.fields.status.annotate({
    description: "running (handed over: see job_id), exited, killed (signal, timeout, idle timeout), failed, lost"
  }),
  exit_status: NullableInt.annotate({ description: "Exit code; null when killed by a signal." }),
  signal: NullableString.annotate({ description: "Signal that ended it (TERM, KILL, …) or null." }),
  stdout: Schema.String,
  stderr: Schema.String,
  stdout_bytes: Schema.Int,
  stderr_bytes: Schema.Int,
  duration_ms: Schema.Int,
  timed_out: Schema.Boolean,
  idle_timed_out: Schema.Boolean,
  job_id: NullableString.annotate({ description: "Set when the command was handed over to a job (status running)." }),
  next_line_no: NullableInt.annotate({ description: "With job_id: pass as since_line_no to ssh_tail for the rest." }),
  awaiting_input: Schema.Boolean,
  prompt: NullableString,
  truncated: Schema.Boolean.annotate({
    description: "True when output was longer than the cap: head and tail are kept around a '… N bytes omitted …' line."
  })
})

export const sshExec = Tool.make({
  name: "ssh_exec",
  title: "Run a command and wait",
  description:
    "Run a short command on a host and wait for it to finish; returns exit_status, stdout, stderr. " +
    "Use it for commands that finish in seconds. For builds, deploys, `tail -f` or anything that may run longer " +
    "than ~50 s, use ssh_spawn + ssh_tail instead (this call blocks and MCP clients time out around 60 s). " +
    "On timeout the whole process group is stopped. Output over 256 KiB per stream keeps its head and tail. " +
    "Not sure how long it takes? Pass background_after_ms: it returns a job_id instead of timing out.",
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  handler: Effect.fnUntraced(function*(input, ctx) {
    const exec = yield* Exec
    const r = yield* exec.run({
      host: input.host,
      command: input.command,
      timeoutMs: input.timeout_ms ?? (input.background_after_ms === undefined ? 60_000 : undefined),
      idleTimeoutMs: input.idle_timeout_ms,
      backgroundAfterMs: input.background_after_ms,
      env: input.env,
      cwd: input.cwd,
      stdin: input.stdin,
      pty: input.pty,
      sudo: input.sudo,
      onProgress: ctx.wantsProgress ? (lines, newest) => ctx.progress(lines, newest) : undefined
    })
    return {
      host: r.host,
      status: r.status,
      exit_status: r.exitStatus,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
      stdout_bytes: r.stdoutBytes,
      stderr_bytes: r.stderrBytes,
      duration_ms: r.durationMs,
      timed_out: r.timedOut,
      idle_timed_out: r.idleTimedOut,
      job_id: r.jobId,
      next_line_no: r.nextLineNo,
      awaiting_input: r.awaitingInput,
      prompt: r.prompt,
      truncated: r.truncated
    }
  })
})
