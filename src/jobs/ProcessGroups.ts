/**
 * Signals to remote process groups: what stops a command and everything it
 * started (a pipeline, a `make -j` tree), not just the shell.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Layer, Redacted } from "effect"
import type { AsRoot, SignalName, Termination } from "../domain/jobs.js"
import type { RemoteProcess } from "../ssh/RemoteProcess.js"
import { collect, HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import { asRootCommand, killGroupCommand } from "../ssh/shell.js"
import { AppConfig } from "../domain/AppConfig.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"

export class ProcessGroups extends Context.Service<ProcessGroups, {
  /** `kill -SIG -<pgid>` over a fresh exec channel; true when kill succeeded. */
  signal(alias: string, pgid: number, signal: SignalName, asRoot?: AsRoot): Effect.Effect<boolean>
  /**
   * TERM (channel signal and process group), up to `killGraceMs` for it to end,
   * then KILL; if the channel is still open after that, close our side.
   */
  terminate(alias: string, process: RemoteProcess, asRoot?: AsRoot): Effect.Effect<Termination>
}>()("mcp-ssh-live/ProcessGroups") {
  static readonly layer = Layer.effect(ProcessGroups)(Effect.gen(function*() {
    const hosts = yield* RemoteHosts
    const config = yield* AppConfig

    const signal = (alias: string, pgid: number, sig: SignalName, asRoot?: AsRoot) =>
      Effect.gen(function*() {
        const kill = killGroupCommand(sig, pgid)
        const command = asRoot === undefined ? kill : asRootCommand(kill)
        // The channel is closed when this ends, the timeout below included.
        const result = yield* collect(hosts.exec(alias, command), {
          step: `kill -${sig} of process group ${pgid} on ${alias}`,
          maxStdout: HELPER_SMALL_OUTPUT,
          stdin: asRoot === undefined ? "" : asRoot.password === undefined ? "" : `${Redacted.value(asRoot.password)}\n`
        })
        return result.code === 0
      }).pipe(
        Effect.timeout("10 seconds"),
        Effect.catch((e) => Effect.as(Effect.logWarning(`signal ${sig} to group ${pgid} on ${alias}: ${e.message}`), false))
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

    return ProcessGroups.of({ signal, terminate })
  }))
}
