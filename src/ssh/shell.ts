/**
 * Building the remote shell script that wraps a user's command: it prints a marker
 * line with the shell's PID (which is also its process group, since sshd starts
 * each session with setsid) before the command runs, so we can signal the whole
 * group later. The command is `eval`ed so a syntax error in it is reported after
 * the marker, by the same shell.
 *
 * With `sudo`, the command runs in a root shell started by `sudo -S` with a prompt of
 * ours (so we know when to write the password to stdin, never argv), and that shell
 * first prints a ready marker (so we know sudo let us in).
 *
 * @since 0.1.0
 */

/** Starts the marker line; the record separator keeps it out of anything a program prints. */
export const PID_MARKER = "\u001e__mcp_ssh_live_pid__:"
/** The prompt sudo prints when it wants the password. */
export const SUDO_PROMPT = "\u001e__mcp_ssh_live_sudo_prompt__\u001e"
/** Printed by the root shell once sudo has authenticated. */
export const SUDO_READY = "\u001e__mcp_ssh_live_sudo_ready__\u001e"

/** POSIX single-quote `s` for /bin/sh. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** Valid environment variable names (what POSIX shells accept for `export`). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface WrapOptions {
  readonly command: string
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly sudo?: boolean | undefined
}

const setup = (options: WrapOptions): Array<string> => {
  const parts: Array<string> = []
  if (options.cwd !== undefined) parts.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) parts.push(`export ${k}=${shellQuote(v)}`)
  parts.push(`eval ${shellQuote(options.command)}`)
  return parts
}

/**
 * The script sent as the exec request. Environment variables are exported by the
 * script itself: sshd drops `env` requests not named in its AcceptEnv.
 */
export const wrapCommand = (options: WrapOptions): string => {
  const pid = `printf '${PID_MARKER}%s\\n' "$$"`
  if (options.sudo !== true) return [pid, ...setup(options)].join("; ")
  const inner = [`printf '${SUDO_READY}\\n'`, ...setup(options)].join("; ")
  return `${pid}; sudo -S -p ${shellQuote(SUDO_PROMPT)} -- "\${SHELL:-/bin/sh}" -c ${shellQuote(inner)}`
}

/** Signals we accept (names without SIG). */
export const SIGNALS = ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"] as const
export type SignalName = typeof SIGNALS[number]

/** A command that sends `signal` to the process group `pgid`. */
export const killGroupCommand = (signal: SignalName, pgid: number): string =>
  `kill -s ${signal} -- -${pgid} 2>/dev/null || kill -s ${signal} ${pgid}`
