/**
 * One command on many hosts at once: `ssh_exec_many`. Each host's run is an ordinary
 * `Exec.run` (same timeouts, sudo, caps, and TERM → grace → KILL of the remote process
 * group when interrupted), never handed over to a job; at most `concurrency` hosts run
 * at a time. A host that cannot be reached or whose command fails is one result among
 * the others, never a failure of the call. When every host's output together is more than
 * `max_exec_many_output_bytes`, the largest streams are cut further (head and tail kept,
 * the marker naming the limit) until it fits.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Result } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { HostNotFoundError, InvalidArgumentError, type SshLiveError } from "../domain/errors.js"
import { CappedOutput } from "../output/CappedOutput.js"
import { jsonCost } from "../output/jsonBudget.js"
import { shareBudget } from "../output/shareBudget.js"
import { Exec } from "./Exec.js"
import { HostRegistry } from "./HostRegistry.js"
import { type JobInfo, type SpawnError, validateRequest } from "./Jobs.js"

/** Hosts run at the same time when the caller says nothing. */
export const DEFAULT_CONCURRENCY = 10
/** The most hosts run at the same time. */
export const MAX_CONCURRENCY = 64
/** Each host's wall-clock limit when the caller says nothing. */
export const DEFAULT_HOST_TIMEOUT_MS = 30_000

export interface ExecManyRequest {
  /** Host aliases, in the order the results come back. Exactly one of `hosts` and `group`. */
  readonly hosts?: ReadonlyArray<string> | undefined
  /** A group's aliases (config `[groups]` or `ssh_connect`'s `groups`), in the group's order. */
  readonly group?: string | undefined
  readonly command: string
  /** Hosts at a time, 1–64 (default 10). */
  readonly concurrency?: number | undefined
  /** Each host's command is stopped after this long (default 30 000); connecting is bounded by `connect_timeout_ms`. */
  readonly timeoutMs?: number | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly sudo?: boolean | undefined
  /**
   * Asked once with the hosts, before anything runs (the operator's policy): per host in
   * that order, the refusal that keeps it from running, or undefined. Failing fails the call.
   */
  readonly gate?: ((aliases: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<SshLiveError | undefined>, SshLiveError>) | undefined
  /** Called as each host finishes: how many are done, out of how many, and that host's result (not yet cut by the total cap). */
  readonly onHostDone?: ((done: number, total: number, result: HostResult) => Effect.Effect<void>) | undefined
  /**
   * List each host's command as a job once it has run this long, and tell `onListed` (an MCP
   * task names its hosts' jobs, which `ssh_tail` and `ssh_signal` reach); each takes a job's
   * place under the limits from its start.
   */
  readonly listAfterMs?: number | undefined
  readonly onListed?: ((host: string, job: JobInfo) => Effect.Effect<void>) | undefined
}

export interface HostResult {
  readonly host: string
  /** Null when the command did not run to an exit (see `error`, `signal`, `timedOut`). */
  readonly exitStatus: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  /** Bytes the command wrote to each stream, all of them (what `stdout`/`stderr` show may be cut). */
  readonly stdoutBytes: number
  readonly stderrBytes: number
  readonly durationMs: number
  readonly timedOut: boolean
  /** A stream was cut, by `max_output_bytes` or by the call's total cap. */
  readonly truncated: boolean
  /** Why the command could not run on this host (connect, auth, host key, channel, sudo …). */
  readonly error: SpawnError | SshLiveError | null
}

export interface ExecManyResult {
  /** One per host, in the order of `hosts` (or of the group); the streams within `max_exec_many_output_bytes`. */
  readonly results: ReadonlyArray<HostResult>
  /**
   * The results with every stream within its share of `budget` bytes of JSON (escapes
   * included; shared as `max_exec_many_output_bytes` is): what a reply of that size can hold.
   */
  within(budget: number): ReadonlyArray<HostResult>
  /** Hosts where the command exited 0. */
  readonly ok: number
  /** The others: an error, a timeout, a signal or a non-zero exit. */
  readonly failed: number
}

/** Whether a host's result counts as `ok`. */
export const isOk = (r: HostResult): boolean => r.error === null && !r.timedOut && r.exitStatus === 0

/** What the marker of a stream cut by the call's total cap names. */
const TOTAL_CAP = "max_exec_many_output_bytes"

export class ExecMany extends Context.Service<ExecMany, {
  /**
   * Run `command` on every host of `hosts` or `group`. Fails only on a bad request (both or
   * neither of hosts and group, an unknown group, an alias not registered, an alias twice,
   * a bad concurrency, env or cwd), before anything runs; interrupted, it stops every
   * host's command.
   */
  run(request: ExecManyRequest): Effect.Effect<ExecManyResult, SshLiveError>
}>()("mcp-ssh-live/ExecMany") {
  static readonly layer = Layer.effect(ExecMany)(Effect.gen(function*() {
    const exec = yield* Exec
    const registry = yield* HostRegistry
    const config = yield* AppConfig

    /** The aliases to run on, checked before anything runs. */
    const targets = Effect.fnUntraced(function*(request: ExecManyRequest) {
      if ((request.hosts === undefined) === (request.group === undefined)) {
        return yield* new InvalidArgumentError({
          message: request.hosts === undefined ? "hosts: give hosts or group" : "group: give hosts or group, not both",
          hint: "hosts: a list of aliases (ssh_list_hosts), or group: a group's name"
        })
      }
      if (request.hosts !== undefined) {
        if (request.hosts.length === 0) return yield* new InvalidArgumentError({ message: "hosts: the list is empty" })
        const seen = new Set<string>()
        for (const alias of request.hosts) {
          if (seen.has(alias)) return yield* new InvalidArgumentError({ message: `hosts: '${alias}' is listed twice` })
          seen.add(alias)
          // An unknown alias refuses the whole call: running on the others first and failing one would leave a fleet half-changed.
          yield* Effect.mapError(registry.resolve(alias), (e) =>
            new HostNotFoundError({ message: `hosts: ${e.message}`, ...(e.hint !== undefined ? { hint: e.hint } : {}), host: alias, cause: e }))
        }
        return request.hosts
      }
      const members = yield* registry.group(request.group!)
      if (members.length === 0) {
        return yield* new InvalidArgumentError({
          message: `group: '${request.group}' has no hosts left (its members were disconnected)`,
          hint: "ssh_connect hosts with groups to fill it again"
        })
      }
      return members
    })

    const run = Effect.fn("ExecMany.run")(function*(request: ExecManyRequest) {
      const concurrency = request.concurrency ?? DEFAULT_CONCURRENCY
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
        return yield* new InvalidArgumentError({ message: `concurrency: expected an integer from 1 to ${MAX_CONCURRENCY}, got ${concurrency}` })
      }
      // The same for every host: refuse it once rather than in every result.
      yield* validateRequest({ command: request.command, env: request.env, cwd: request.cwd })
      const aliases = yield* targets(request)
      const refusals = request.gate === undefined ? [] : yield* request.gate(aliases)
      const timeoutMs = request.timeoutMs ?? DEFAULT_HOST_TIMEOUT_MS
      // No stream can be shown past the call's total, so none keeps more (memory: hosts × 2 streams).
      const perStream = Math.min(config.limits.maxOutputBytes, config.limits.maxExecManyOutputBytes)
      let done = 0

      const one = (host: string, i: number) =>
        Effect.gen(function*() {
          const output = { stdout: new CappedOutput(perStream), stderr: new CappedOutput(perStream) }
          const started = yield* Clock.currentTimeMillis
          const refused = refusals[i]
          const ran = refused !== undefined ? Result.fail(refused) : yield* Effect.result(exec.run({
            host,
            command: request.command,
            timeoutMs,
            env: request.env,
            cwd: request.cwd,
            sudo: request.sudo,
            output,
            ...(request.listAfterMs !== undefined
              ? {
                listAfterMs: request.listAfterMs,
                closeStdin: true,
                onListed: (job: JobInfo) => request.onListed?.(host, job) ?? Effect.void
              }
              : {})
          }))
          const durationMs = (yield* Clock.currentTimeMillis) - started
          const result: HostResult = ran._tag === "Success"
            ? {
              host,
              exitStatus: ran.success.exitStatus,
              signal: ran.success.signal,
              stdout: ran.success.stdout,
              stderr: ran.success.stderr,
              stdoutBytes: ran.success.stdoutBytes,
              stderrBytes: ran.success.stderrBytes,
              durationMs: ran.success.durationMs,
              timedOut: ran.success.timedOut,
              truncated: ran.success.truncated,
              error: null
            }
            : {
              host,
              exitStatus: null,
              signal: null,
              stdout: "",
              stderr: "",
              stdoutBytes: 0,
              stderrBytes: 0,
              durationMs,
              timedOut: false,
              truncated: false,
              error: ran.failure
            }
          done++
          if (request.onHostDone !== undefined) yield* request.onHostDone(done, aliases.length, result)
          return { result, output }
        })

      const ran = yield* Effect.forEach(aliases, one, { concurrency })
      const results = fitTotal(ran, config.limits.maxExecManyOutputBytes)
      const ok = results.filter(isOk).length
      return { results, ok, failed: results.length - ok, within: (budget: number) => fitJson(ran, results, budget) }
    })

    return ExecMany.of({ run })
  }))
}

/**
 * The results with every stream's text within its share of `budget` (see `shareBudget`):
 * untouched when all of them fit.
 */
const fitTotal = (
  ran: ReadonlyArray<{ readonly result: HostResult; readonly output: { readonly stdout: CappedOutput; readonly stderr: CappedOutput } }>,
  budget: number
): Array<HostResult> => {
  const streams = ran.flatMap(({ output }) => [output.stdout, output.stderr])
  const kept = streams.map((s) => Math.min(s.bytes, s.cap))
  if (kept.reduce((a, b) => a + b, 0) <= budget) return ran.map(({ result }) => result)
  const shares = shareBudget(kept, budget)
  return ran.map(({ result, output }, i) => {
    const [outShare, errShare] = [shares[2 * i]!, shares[2 * i + 1]!]
    if (outShare >= kept[2 * i]! && errShare >= kept[2 * i + 1]!) return result
    return {
      ...result,
      stdout: output.stdout.text(outShare, TOTAL_CAP),
      stderr: output.stderr.text(errShare, TOTAL_CAP),
      truncated: result.truncated || output.stdout.truncatedAt(outShare) || output.stderr.truncatedAt(errShare)
    }
  })
}

/** What marks a stream cut to fit a reply's size. */
const REPLY_CAP = "max_output_bytes"

/**
 * `results` (already within the call's total cap) with every stream's text within its share
 * of `budget` bytes of JSON (see `ExecManyResult.within`), cut again from what was kept.
 */
const fitJson = (
  ran: ReadonlyArray<{ readonly output: { readonly stdout: CappedOutput; readonly stderr: CappedOutput } }>,
  results: ReadonlyArray<HostResult>,
  budget: number
): Array<HostResult> => {
  const costs = results.flatMap((result) => [jsonCost(result.stdout), jsonCost(result.stderr)])
  if (costs.reduce((a, b) => a + b, 0) <= budget) return [...results]
  const shares = shareBudget(costs, budget)
  return results.map((result, i) => {
    const { output } = ran[i]!
    const [outShare, errShare] = [shares[2 * i]!, shares[2 * i + 1]!]
    if (outShare >= costs[2 * i]! && errShare >= costs[2 * i + 1]!) return result
    // A host that could not run has no output to cut.
    if (result.error !== null) return result
    const cut = (capped: CappedOutput, share: number, cost: number, text: string) =>
      cost <= share ? text : capped.text(capped.capWithin(share, REPLY_CAP), REPLY_CAP)
    return {
      ...result,
      stdout: cut(output.stdout, outShare, costs[2 * i]!, result.stdout),
      stderr: cut(output.stderr, errShare, costs[2 * i + 1]!, result.stderr),
      truncated: true
    }
  })
}
