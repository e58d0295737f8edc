import { Effect, Schema } from "effect"
import { ExecMany, type ExecManyResult, type HostResult, isOk, MAX_CONCURRENCY } from "../../services/ExecMany.js"
import type { JobInfo } from "../../services/Jobs.js"
import { Policy } from "../../services/Policy.js"
import { Cwd, Env, guardLength, HostAlias, int, nonEmpty, NullableInt, NullableString, snakeKeys } from "./fields.js"
import { enforcePolicyEach } from "./policyGate.js"
import { DEFAULT_REPLY_BYTES, MAX_REPLY_BYTES } from "./replyBudget.js"
import * as Tool from "./Tool.js"

/** `ExecMany.run`'s request, as the agent sends it (snake_case); `max_output_bytes` budgets the reply. */
const Input = snakeKeys(Schema.Struct({
  command: Schema.String.check(nonEmpty, guardLength(1_000_000)),
  hosts: Schema.optionalKey(Schema.Array(HostAlias).check(guardLength(100_000))),
  group: Schema.optionalKey(HostAlias),
  concurrency: Schema.optionalKey(int(1, MAX_CONCURRENCY)),
  timeoutMs: Schema.optionalKey(int(1, 3_600_000)),
  sudo: Schema.optionalKey(Schema.Boolean),
  env: Schema.optionalKey(Env),
  cwd: Schema.optionalKey(Cwd),
  maxOutputBytes: Schema.optionalKey(int(1024, MAX_REPLY_BYTES).annotate({ description: "Reply size, shared by the hosts. Default 16384." }))
}))

/** A `HostResult` as the agent reads it (snake_case), its error as `CODE: message (hint: …)`. */
const HostOut = snakeKeys(Schema.Struct({
  host: Schema.String,
  exitStatus: NullableInt,
  signal: NullableString,
  stdout: Schema.String,
  stderr: Schema.String,
  durationMs: Schema.Int,
  timedOut: Schema.Boolean,
  truncated: Schema.Boolean,
  error: NullableString
}))

const Output = Schema.Struct({
  results: Schema.Array(HostOut),
  ok: Schema.Int,
  failed: Schema.Int,
  note: Schema.optionalKey(Schema.String)
})

type HostOut = typeof HostOut.Type

const hostOut = (h: HostResult): HostOut => ({
  ...h,
  error: h.error === null ? null : `${h.error.code}: ${h.error.message}${h.error.hint === undefined ? "" : ` (hint: ${h.error.hint})`}`
})

const encodeHost = Schema.encodeSync(HostOut)

/** The bytes of a reply's JSON, its host results as they are sent. */
const bytes = (o: { readonly results?: ReadonlyArray<HostOut> } & Record<string, unknown>) =>
  Buffer.byteLength(JSON.stringify(o.results === undefined ? o : { ...o, results: o.results.map((h) => encodeHost(h)) }))

/**
 * The reply within `budget` bytes of JSON: the hosts' output shares what the other fields
 * leave. When even those leave too little (hundreds of hosts), no output is shown, the
 * failures are listed, and the hosts whose command exited 0 as far as they fit, the rest
 * named in `note`.
 */
const reply = (r: ExecManyResult, budget: number): typeof Output.Type => {
  const bare = (h: HostResult): HostOut => ({ ...hostOut(h), stdout: "", stderr: "", truncated: h.truncated || h.stdout !== "" || h.stderr !== "" })
  const fixed = bytes({ results: r.results.map(bare), ok: r.ok, failed: r.failed })
  if (fixed + 128 * r.results.length <= budget) {
    return { results: r.within(budget - fixed).map(hostOut), ok: r.ok, failed: r.failed }
  }
  const note = (hidden: number) => `no output shown: too many hosts for max_output_bytes; ${hidden} more hosts exited 0: `
  let used = bytes({ results: r.results.filter((h) => !isOk(h)).map(bare), ok: r.ok, failed: r.failed, note: note(r.results.length) })
  const listed = new Set<HostResult>(r.results.filter((h) => !isOk(h)))
  const names: Array<string> = []
  for (const h of r.results) {
    if (listed.has(h)) continue
    const b = Buffer.byteLength(JSON.stringify(encodeHost(bare(h)))) + 1
    if (names.length === 0 && used + b <= budget) {
      used += b
      listed.add(h)
    } else names.push(h.host)
  }
  // Names while they fit, then a count.
  let named = ""
  for (const [i, name] of names.entries()) {
    const more = names.length - i - 1
    if (used + Buffer.byteLength(named) + name.length + 32 > budget) {
      named += `… (${names.length - i} not named)`
      break
    }
    named += `${i > 0 ? ", " : ""}${name}`
    if (more === 0) break
  }
  return { results: r.results.filter((h) => listed.has(h)).map(bare), ok: r.ok, failed: r.failed, note: `${note(names.length)}${named}` }
}

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
    const { maxOutputBytes, ...request } = input
    const r = yield* (yield* ExecMany).run({
      ...request,
      gate: policy.enabled
        ? (aliases) => enforcePolicyEach(ctx, aliases, action).pipe(Effect.provideService(Policy, policy))
        : undefined,
      // An MCP task lists each host's command as a job when it becomes one, and names them.
      ...(task !== undefined ? { listAfterMs: task.afterMs, onListed: (host: string, job: JobInfo) => task.named(host, job.jobId) } : {}),
      onHostDone: ctx.wantsProgress
        ? (done, total, host) =>
          ctx.progress(done, `${host.host}: ${host.error !== null ? host.error.code : host.timedOut ? "timed out" : host.signal ?? `exit ${host.exitStatus}`}`, total)
        : undefined
    })
    return reply(r, maxOutputBytes ?? DEFAULT_REPLY_BYTES)
  })
})
