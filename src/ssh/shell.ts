/**
 * Building the remote shell script that wraps a user's command: it prints a marker
 * line with the shell's PID (which is also its process group, since sshd starts
 * each session with setsid) before the command runs, so we can signal the whole
 * group later. The command is `eval`ed so a syntax error in it is reported after
 * the marker, by the same shell.
 *
 * @since 0.1.0
 */

/** Starts the marker line; the record separator keeps it out of anything a program prints. */
export const PID_MARKER = "\u001e__mcp_ssh_live_pid__:"

/** POSIX single-quote `s` for /bin/sh. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** Valid environment variable names (what POSIX shells accept for `export`). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface WrapOptions {
  readonly command: string
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
}

/**
 * The script sent as the exec request. Environment variables are exported by the
 * script itself: sshd drops `env` requests not named in its AcceptEnv.
 */
export const wrapCommand = (options: WrapOptions): string => {
  const parts = [`printf '${PID_MARKER}%s\\n' "$$"`]
  if (options.cwd !== undefined) parts.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) parts.push(`export ${k}=${shellQuote(v)}`)
  parts.push(`eval ${shellQuote(options.command)}`)
  return parts.join("; ")
}

/** Signals we accept (names without SIG). */
export const SIGNALS = ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"] as const
export type SignalName = typeof SIGNALS[number]

/** A command that sends `signal` to the process group `pgid` (and, for CONT after STOP, nothing else). */
export const killGroupCommand = (signal: SignalName, pgid: number): string =>
  `kill -s ${signal} -- -${pgid} 2>/dev/null || kill -s ${signal} ${pgid}`
