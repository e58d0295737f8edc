/**
 * How the job modules reach a host: a port of their own, so that `src/jobs/` does not
 * import the services. The live layer (`src/layers/RemoteHosts.ts`) is built from
 * `Connections` and `HostRegistry`; unit tests give a fake.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Scope } from "effect"
import type { ChannelError, ConnectFailure } from "../domain/errors.js"
import type { RemoteChannel } from "./RemoteChannel.js"

export interface ExecOptions {
  /** Allocate a pseudo-terminal of PTY_SIZE (stdout and stderr merge, programs line-buffer). */
  readonly pty?: boolean
  /**
   * Receive window in bytes, for a channel that brings much data across a long link (ssh2's
   * own is 2 MiB: one channel then carries at most 2 MiB per round trip). Memory stays bounded
   * by it: a reader that pauses stops the window's top-ups.
   */
  readonly window?: number
}

/** The terminal size of a pty (`TERM=xterm`): what a pty job's screen is. */
export const PTY_SIZE = { cols: 200, rows: 40 } as const

export class RemoteHosts extends Context.Service<RemoteHosts, {
  /** Start `command` on `alias` in a new exec channel, connecting first when needed; the channel closes with the scope. */
  exec(alias: string, command: string, options?: ExecOptions): Effect.Effect<RemoteChannel, ConnectFailure | ChannelError, Scope.Scope>
  /** The registered hosts connected now, in registry order. */
  readonly connected: Effect.Effect<ReadonlyArray<string>>
  /** Whether `alias` has an open connection now (false while a dropped one is being re-established). */
  isConnected(alias: string): Effect.Effect<boolean>
  /** Completes when the current connection to `alias` closes (at once when there is none). */
  closed(alias: string): Effect.Effect<void>
}>()("mcp-ssh-live/RemoteHosts") {}
