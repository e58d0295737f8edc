/**
 * What this package needs of a remote command's channel: its two output streams,
 * how it ended, stdin, signals. ssh2's `ClientChannel` satisfies it structurally;
 * tests give a fake. The start of an opaque handle instead of ssh2 types.
 *
 * @since 0.1.0
 */

/** The stderr side of a channel. */
export interface RemoteStderr {
  on(event: "data", listener: (chunk: Buffer) => void): unknown
}

export interface RemoteChannel {
  on(event: "data", listener: (chunk: Buffer) => void): unknown
  /** sshd's exit-status (a code) or exit-signal (null and the signal name, e.g. "TERM" or "SIGTERM"). */
  on(event: "exit", listener: (code: number | null, signal?: string) => void): unknown
  /** The channel is gone: every byte of output has been delivered. */
  on(event: "close", listener: () => void): unknown
  on(event: "error", listener: (error: Error) => void): unknown
  once(event: "drain", listener: () => void): unknown
  readonly stderr: RemoteStderr
  /**
   * Write to stdin; false when the caller should wait for "drain". `done` runs once the
   * channel no longer needs `data` (it may then be reused); fakes may never call it.
   */
  write(data: string | Uint8Array, done?: () => void): boolean
  /** Close stdin (after writing `data`, if given). */
  end(data?: string): unknown
  /** Ask sshd to deliver a signal (name without SIG). */
  signal(name: string): unknown
  /** Close our side of the channel. */
  close(): unknown
  /** Stop and restart "data" events (flow control for a reader that writes to disk); fakes may leave them out. */
  pause?(): unknown
  resume?(): unknown
}
