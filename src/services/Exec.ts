/**
 * Run a command and wait for it: `ssh_exec`. Output is capped per stream (head and
 * tail kept); on timeout, interruption (MCP cancellation) or shutdown the remote
 * process group gets TERM, a grace period, then KILL.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Layer } from "effect"
import { CappedOutput } from "../output/CappedOutput.js"
import { RemoteProcess, type StreamName } from "../ssh/RemoteProcess.js"
import { ENV_NAME, wrapCommand } from "../ssh/shell.js"
import { AppConfig } from "./AppConfig.js"
import { Connections, type ConnectFailure } from "./Connections.js"
import { type ChannelError, InvalidArgumentError } from "./errors.js"
import { HostRegistry } from "./HostRegistry.js"
import { ProcessGroups, type Termination } from "./ProcessGroups.js"

export interface ExecRequest {
  /** Host alias; the default host when undefined. */
  readonly host?: string | undefined
  readonly command: string
  /** Wall-clock limit; undefined means none. */
  readonly timeoutMs?: number | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  /** Written to the command's stdin, which is then closed. */
  readonly stdin?: string | undefined
  readonly pty?: boolean | undefined
  /** Called with every raw chunk (progress reporting). Must be cheap. */
  readonly onOutput?: ((stream: StreamName, chunk: Buffer) => void) | undefined
}

export interface ExecResult {
  readonly host: string
  readonly exitStatus: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly stdoutBytes: number
  readonly stderrBytes: number
  readonly durationMs: number
  readonly timedOut: boolean
  /** True when either stream was capped. */
  readonly truncated: boolean
  /** The remote shell's PID (also its process group). */
  readonly pid: number | null
  /** How the process was stopped when we had to stop it. */
  readonly termination: Termination | null
}

/** Environment names are checked before anything is sent: they end up in a shell script. */
export const validateEnv = (env: Readonly<Record<string, string>> | undefined) =>
  Effect.forEach(Object.keys(env ?? {}), (name) =>
    ENV_NAME.test(name)
      ? Effect.void
      : Effect.fail(
        new InvalidArgumentError({
          message: `env: '${name}' is not a valid environment variable name`,
          hint: "names are letters, digits and _, not starting with a digit"
        })
      ), { discard: true })

export class Exec extends Context.Service<Exec, {
  run(request: ExecRequest): Effect.Effect<ExecResult, ConnectFailure | ChannelError | InvalidArgumentError>
}>()("mcp-ssh-live/Exec") {
  static readonly layer = Layer.effect(Exec)(Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry
    const groups = yield* ProcessGroups
    const config = yield* AppConfig

    const run = Effect.fn("Exec.run")(function*(request: ExecRequest) {
      yield* validateEnv(request.env)
      const host = yield* registry.resolve(request.host)
      const script = wrapCommand({
        command: request.command,
        ...(request.env !== undefined ? { env: request.env } : {}),
        ...(request.cwd !== undefined ? { cwd: request.cwd } : {})
      })
      const cap = config.limits.maxOutputBytes
      const out = { stdout: new CappedOutput(cap), stderr: new CappedOutput(cap) }
      const onOutput = request.onOutput
      const started = Date.now()
      let termination: Termination | null = null

      return yield* Effect.acquireUseRelease(
        Effect.map(
          connections.exec(host.alias, script, { pty: request.pty === true }),
          (channel) =>
            new RemoteProcess(channel, (stream, chunk) => {
              out[stream].push(chunk)
              onOutput?.(stream, chunk)
            })
        ),
        (process) =>
          Effect.gen(function*() {
            if (request.stdin !== undefined) yield* process.write(request.stdin)
            yield* process.endInput()
            const ended = request.timeoutMs === undefined
              ? Effect.asSome(Deferred.await(process.exited))
              : Deferred.await(process.exited).pipe(Effect.timeoutOption(request.timeoutMs))
            const exit = yield* ended
            let timedOut = false
            if (exit._tag === "None") {
              timedOut = true
              termination = yield* groups.terminate(host.alias, process)
            }
            const info = yield* Deferred.await(process.exited).pipe(
              Effect.timeoutOption("1 second"),
              Effect.map((o) => o._tag === "Some" ? o.value : { exitStatus: null, signal: null })
            )
            return {
              host: host.alias,
              exitStatus: info.exitStatus,
              signal: info.signal,
              stdout: out.stdout.text(),
              stderr: out.stderr.text(),
              stdoutBytes: out.stdout.bytes,
              stderrBytes: out.stderr.bytes,
              durationMs: Date.now() - started,
              timedOut,
              truncated: out.stdout.truncated || out.stderr.truncated,
              pid: process.pid ?? null,
              termination
            } satisfies ExecResult
          }),
        // Interrupted (cancelled, shutting down) while the command still runs: stop it.
        (process) => process.done ? Effect.void : Effect.asVoid(groups.terminate(host.alias, process))
      )
    })

    return Exec.of({ run })
  }))
}
