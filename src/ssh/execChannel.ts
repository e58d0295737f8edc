/**
 * Exec channels opened as OpenSSH's client opens them, for two things ssh2's `Client.exec`
 * does not do:
 *
 * - Pipelining. ssh2 sends each request only once sshd has answered the one before (a pty
 *   request, then the exec request) and hands the channel over after the last answer. Here
 *   the requests go together as soon as the open is confirmed, and the channel is handed
 *   over at once (what the caller writes is sent once sshd grants a window, which it does
 *   when the command starts). sshd handles a channel's messages in order. Should sshd refuse
 *   the exec request (rare: it failed to start the session), the channel says so on its
 *   stderr and is closed: the caller sees a command that printed that and ended without an
 *   exit status. A refused pty request (`PermitTTY no`) is told on stderr too, and the command
 *   runs without a terminal (it was sent already).
 * - A larger receive window. ssh2 opens every channel with a 2 MiB window and tops it up
 *   to 2 MiB (`MAX_WINDOW` in its lib/Channel.js, a constant): one channel then carries at
 *   most 2 MiB per round trip, 40 MiB/s across a 50 ms link. Given `window`, the channel is
 *   opened with that window and topped up to it whenever half is used, as long as the
 *   reader keeps up (a paused reader stops the top-ups, so the sender stops: memory stays
 *   bounded by the window).
 *
 * Relies on ssh2 1.17 internals (its channel manager, the protocol's session, exec and
 * window-adjust messages, a channel's window fields and reply callbacks);
 * test/integration/execChannel.test.ts fails when they change underneath.
 *
 * @since 0.3.0
 */
import { createRequire } from "node:module"
import type { Client, ClientChannel } from "ssh2"

const require = createRequire(import.meta.url)

/** What a channel of ssh2 1.17 holds that this module reads and sets. */
interface ChannelInternals {
  readonly incoming: { window: number; state: string }
  /** "open", "eof" once we sent EOF, "closing", "closed". */
  readonly outgoing: { readonly id: number; state: string }
  /** Replies to our requests, in order: called with false (success) or true/an Error (failure). */
  readonly _callbacks: Array<(failed: boolean | Error) => void>
  subtype: string | undefined
  allowHalfOpen: boolean
}

/** What ssh2 1.17's Client holds that this module uses. */
interface ClientInternals {
  readonly _sock: unknown
  readonly _chanMgr: { add(opened: unknown): number }
  readonly _protocol: {
    session(localId: number, window: number, packetSize: number): void
    exec(remoteId: number, command: string, wantReply: boolean): void
    pty(remoteId: number, rows: number, cols: number, height: number, width: number, term: string, modes: null, wantReply: boolean): void
    channelWindowAdjust(remoteId: number, amount: number): void
  }
}

const channelModule = require("ssh2/lib/Channel.js") as { readonly MAX_WINDOW: number; readonly PACKET_SIZE: number }
const { isWritable } = require("ssh2/lib/utils.js") as { isWritable(stream: unknown): boolean }

/** ssh2's own window (2 MiB): smaller windows are not asked for. */
export const SSH2_WINDOW = channelModule.MAX_WINDOW

/** Printed on the channel's stderr when sshd refuses the exec request. */
export const EXEC_REFUSED = "mcp-ssh-live: the host refused to start the command (exec request failed)\n"

/**
 * Top the channel's receive window up to `window` whenever half of it is used, as the
 * reader takes the data (ssh2's own top-up, to 2 MiB below 1 MiB, then never fires).
 */
const keepWindow = (channel: ClientChannel, protocol: ClientInternals["_protocol"], window: number) => {
  const ch = channel as unknown as ChannelInternals
  const topUp = () => {
    // Not "open" only: after our EOF (`end()`) the state is "eof" and data still comes.
    if (ch.outgoing.state === "closed" || ch.incoming.window > window / 2) return
    const amount = window - ch.incoming.window
    ch.incoming.window = window
    protocol.channelWindowAdjust(ch.outgoing.id, amount)
  }
  // ssh2 pushes each packet's data and then looks at the window: top it up after a push the
  // reader took (one that returned false waits for the reader: no more window meanwhile).
  for (const stream of [channel, channel.stderr]) {
    const push = stream.push.bind(stream)
    stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
      const taken = push(chunk, encoding)
      if (taken && chunk !== null) topUp()
      return taken
    }
  }
}

export interface ExecChannelOptions {
  /** Receive window in bytes (default and minimum: ssh2's 2 MiB). */
  readonly window?: number | undefined
  /** A pseudo-terminal, asked for before the command (in the same round trip). */
  readonly pty?: { readonly term: string; readonly rows: number; readonly cols: number } | undefined
}

/** Printed on the channel's stderr when sshd refuses the pty request. */
export const PTY_REFUSED = "mcp-ssh-live: the host refused a pseudo-terminal (pty request failed); the command runs without one\n"

/**
 * Open a session channel on `client` and send the exec request for `command` without
 * waiting for its answer: `cb` gets the channel at once (or the open's failure). Throws
 * when the connection is gone, as ssh2's `exec` does.
 */
export const openExecChannel = (
  client: Client,
  command: string,
  options: ExecChannelOptions,
  cb: (err: Error | undefined, channel: ClientChannel | undefined) => void
): void => {
  const c = client as unknown as ClientInternals
  if (!isWritable(c._sock)) throw new Error("Not connected")
  const window = Math.max(SSH2_WINDOW, options.window ?? 0)
  // ssh2 calls this with the new channel once sshd confirms the open (or with the failure).
  const opened = (err: Error | undefined, channel: ClientChannel) => {
    if (err !== undefined && err !== null) return cb(err, undefined)
    const ch = channel as unknown as ChannelInternals
    // ssh2 records its own 2 MiB as what it offered; the open offered `window`.
    ch.incoming.window = window
    ch.subtype = "exec"
    ch.allowHalfOpen = true
    // Replies come in the order of the requests; a refusal is told on stderr.
    // ssh2 also calls the callbacks left when the channel or the connection goes away, after
    // ending stderr: nothing is refused then, and a push after the end would be an 'error'
    // event nobody listens to (it would end the process).
    const refused = (text: string, fatal: boolean) => (failed: boolean | Error) => {
      const stderrEnded = (channel.stderr as unknown as { readonly _readableState?: { readonly ended?: boolean } })._readableState?.ended === true
      if (failed === false || ch.outgoing.state !== "open" || stderrEnded || !isWritable(c._sock)) return
      channel.stderr.push(Buffer.from(text))
      if (fatal) channel.close()
    }
    const pty = options.pty
    if (pty !== undefined) {
      ch._callbacks.push(refused(PTY_REFUSED, false))
      c._protocol.pty(ch.outgoing.id, pty.rows, pty.cols, 480, 640, pty.term, null, true)
    }
    ch._callbacks.push(refused(EXEC_REFUSED, true))
    c._protocol.exec(ch.outgoing.id, command, true)
    if (window > SSH2_WINDOW) keepWindow(channel, c._protocol, window)
    cb(undefined, channel)
  }
  // ssh2 tells a session from an SFTP channel by this field of the callback.
  const entry = Object.assign(opened, { type: "session" })
  const localId = c._chanMgr.add(entry)
  if (localId === -1) return cb(new Error("No free channels available"), undefined)
  c._protocol.session(localId, window, channelModule.PACKET_SIZE)
}
