import { Effect, Schema } from "effect"
import { ALIAS_PATTERN } from "../../domain/hosts.js"
import { ExecMany, MAX_CONCURRENCY } from "../../services/ExecMany.js"
import type { JobInfo } from "../../services/Jobs.js"
import { Policy } from "../../services/Policy.js"
import { Cwd, Env, guardLength, HostAlias, int, nonEmpty, NullableInt, NullableString } from "./fields.js"
import { enforcePolicyEach } from "./policyGate.js"
import * as Tool from "./Tool.js"

const Input = Schema.Struct({
  command: Schema.String.check(nonEmpty, guardLength(1_000_000)),
  hosts: Schema.optionalKey(Schema.Array(HostAlias).check(guardLength(100_000))),
  group: Schema.optionalKey(Schema.String.check(Schema.makeFilter((s: string) =>
    ALIAS_PATTERN.test(s) ? undefined : "must be 1-64 of A-Za-z0-9._-"
  ))),
  concurrency: Schema.optionalKey(int(1, MAX_CONCURRENCY)),
  timeout_ms: Schema.optionalKey(int(1, 3_600_000)),
  sudo: Schema.optionalKey(Schema.Boolean),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd)
})

const Output = Schema.Struct({
  results: Schema.Array(Schema.Struct({
    host: Schema.String,
    exit_status: NullableInt,
    signal: NullableString,
    stdout: Schema.String,
    stderr: Schema.String,
    duration_ms: Schema.Int,
    timed_out: Schema.Boolean,
    truncated: Schema.Boolean,
    error: NullableString
  })),
  ok: Schema.Int,
  failed: Schema.Int
})

export const sshExecMany = Tool.make({
  name: "ssh_exec_many",
  title: "Run on many hosts",
  description:
    "ssh_exec on many hosts: hosts or group. Default concurrency 10, timeout_ms 30000 per host. Results in " +
    "order; error \"CODE: message\" if it could not run; ok counts exit 0.",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  task: "own",
  handler: Effect.fnUntraced(function*(input, ctx) {
    const policy = yield* Policy
    const task = ctx.task
    const action = { _tag: "Command" as const, command: input.command, envNames: Object.keys(input.env ?? {}) }
    const r = yield* (yield* ExecMany).run({
      gate: policy.enabled
        ? (aliases) => enforcePolicyEach(ctx, aliases, action).pipe(Effect.provideService(Policy, policy))
        : undefined,
      hosts: input.hosts,
      group: input.group,
      command: input.command,
      concurrency: input.concurrency,
      timeoutMs: input.timeout_ms,
      env: input.env,
      cwd: input.cwd,
      sudo: input.sudo,
      // An MCP task lists each host's command as a job when it becomes one, and names them.
      ...(task !== undefined ? { listAfterMs: task.afterMs, onListed: (host: string, job: JobInfo) => task.named(host, job.jobId) } : {}),
      onHostDone: ctx.wantsProgress
        ? (done, total, host) =>
          ctx.progress(done, `${host.host}: ${host.error !== null ? host.error.code : host.timedOut ? "timed out" : host.signal ?? `exit ${host.exitStatus}`}`, total)
        : undefined
    })
    return {
      results: r.results.map((h) => ({
        host: h.host,
        exit_status: h.exitStatus,
        signal: h.signal,
        stdout: h.stdout,
        stderr: h.stderr,
        duration_ms: h.durationMs,
        timed_out: h.timedOut,
        truncated: h.truncated,
        error: h.error === null ? null : `${h.error.code}: ${h.error.message}${h.error.hint === undefined ? "" : ` (hint: ${h.error.hint})`}`
      })),
      ok: r.ok,
      failed: r.failed
    }
  })
})
