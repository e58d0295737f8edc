/**
 * Signals to remote process groups: what stops a command and everything it
 * started (a pipeline, a `make -j` tree), not just the shell; and whether a group
 * still has a process (a job found again after its connection died).
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Layer, Option, Redacted } from "effect"
import type { AsRoot, SignalName, Termination } from "../domain/jobs.js"
import { type ChannelError, type ConnectFailure, type RemoteOutputTooLargeError, TimeoutError } from "../domain/errors.js"
import type { RemoteProcess } from "../ssh/RemoteProcess.js"
import { collect, HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import { asRootCommand, groupAliveCommand, killGroupCommand } from "../ssh/shell.js"
import { AppConfig } from "../domain/AppConfig.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"

export class ProcessGroups extends Context.Service<ProcessGroups, {
  /**
   * `kill -SIG -<pgid>` over a fresh exec channel; true when kill succeeded, false when it did
   * not or could not be sent. With `guard` (shell code), only when the guard succeeds first:
   * a persistent job's check that the PID still names its process.
   */
  signal(alias: string, pgid: number, signal: SignalName, asRoot?: AsRoot, guard?: string): Effect.Effect<boolean>
  /** The same, failing when the host could not be asked: true when some process got it, false when none is left. */
  send(alias: string, pgid: number, signal: SignalName, asRoot?: AsRoot, guard?: string): Effect.Effect<boolean, ConnectFailure | ChannelError | RemoteOutputTooLargeError>
  /** Whether the group still has a process (`kill -0`); none when the host could not be asked. */
  alive(alias: string, pgid: number, asRoot?: AsRoot): Effect.Effect<Option.Option<boolean>>
  /**
   * TERM (channel signal and process group), up to `killGraceMs` for it to end,
   * then KILL; if the channel is still open after that, close our side.
   */
  terminate(alias: string, process: RemoteProcess, asRoot?: AsRoot): Effect.Effect<Termination>
  /** TERM to a group we have no channel to, up to `killGraceMs` for it to be gone, then KILL. */
  terminateGroup(alias: string, pgid: number, asRoot?: AsRoot): Effect.Effect<Termination>
}>()("mcp-ssh-live/ProcessGroups") {
  static readonly layer = Layer.effect(ProcessGroups)(Effect.gen(function*() {
    const hosts = yield* RemoteHosts
    const config = yield* AppConfig

    /** Run a helper command of ours on `alias` (through sudo for a root job); its exit code. */
    const run = (alias: string, command: string, step: string, asRoot: AsRoot | undefined) =>
      Effect.gen(function*() {
        // The channel is closed when this ends, the timeout below included.
        const result = yield* collect(hosts.exec(alias, asRoot === undefined ? command : asRootCommand(command)), {
          step,
          maxStdout: HELPER_SMALL_OUTPUT,
          stdin: asRoot === undefined ? "" : asRoot.password === undefined ? "" : `${Redacted.value(asRoot.password)}\n`
        })
        return result.code
      }).pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.fail(new TimeoutError({ message: `no answer from ${alias} within 10 s` }))
        })
      )

    const send = (alias: string, pgid: number, sig: SignalName, asRoot?: AsRoot, guard?: string) =>
      Effect.map(
        run(alias, guard === undefined ? killGroupCommand(sig, pgid) : `${guard} || exit 1\n${killGroupCommand(sig, pgid)}`, `kill -${sig} of process group ${pgid} on ${alias}`, asRoot),
        (code) => code === 0
      )

    const signal = (alias: string, pgid: number, sig: SignalName, asRoot?: AsRoot, guard?: string) =>
      send(alias, pgid, sig, asRoot, guard).pipe(
        Effect.catch((e) => Effect.as(Effect.logWarning(`signal ${sig} to group ${pgid} on ${alias}: ${e.message}`), false))
      )

    const alive = (alias: string, pgid: number, asRoot?: AsRoot) =>
      run(alias, groupAliveCommand(pgid), `kill -0 of process group ${pgid} on ${alias}`, asRoot).pipe(
        Effect.map((code) => code === 0 ? Option.some(true) : code === 1 ? Option.some(false) : Option.none()),
        Effect.catch(() => Effect.succeed(Option.none<boolean>()))
      )

    const endsWithin = (process: RemoteProcess, ms: number) =>
      Deferred.await(process.exited).pipe(
        Effect.timeoutOption(ms),
        Effect.map((o) => o._tag === "Some")
      )

    const terminate = (alias: string, process: RemoteProcess, asRoot?: AsRoot) =>
      Effect.gen(function*() {
        if (process.done) return "already-exited" as const
        yield* Deferred.await(process.started).pipe(Effect.timeoutOption("2 seconds"))
        process.signalChannel("TERM")
        if (process.pid !== undefined) yield* signal(alias, process.pid, "TERM", asRoot)
        if (yield* endsWithin(process, config.limits.killGraceMs)) return "term" as const
        process.signalChannel("KILL")
        if (process.pid !== undefined) yield* signal(alias, process.pid, "KILL", asRoot)
        if (yield* endsWithin(process, 2_000)) return "kill" as const
        process.close()
        return "abandoned" as const
      }).pipe(Effect.uninterruptible)

    /** Polls `alive` every 250 ms for up to `ms`: true once the group is gone. */
    const goneWithin = (alias: string, pgid: number, asRoot: AsRoot | undefined, ms: number) =>
      Effect.gen(function*() {
        for (let waited = 0; ; waited += 250) {
          const state = yield* alive(alias, pgid, asRoot)
          if (Option.isSome(state) && !state.value) return true
          if (waited >= ms) return false
          yield* Effect.sleep("250 millis")
        }
      })

    const terminateGroup = (alias: string, pgid: number, asRoot?: AsRoot) =>
      Effect.gen(function*() {
        if (!(yield* signal(alias, pgid, "TERM", asRoot))) return "already-exited" as const
        if (yield* goneWithin(alias, pgid, asRoot, config.limits.killGraceMs)) return "term" as const
        yield* signal(alias, pgid, "KILL", asRoot)
        return (yield* goneWithin(alias, pgid, asRoot, 2_000)) ? "kill" as const : "abandoned" as const
      }).pipe(Effect.uninterruptible)

    return ProcessGroups.of({ signal, send, alive, terminate, terminateGroup })
  }))
}
