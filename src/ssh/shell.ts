/**
 * The remote side of running a user's command. The exec request itself is a fixed
 * launcher of ours that carries nothing of the request: the command, its environment
 * and its directory travel over the channel's stdin as a length-prefixed block of
 * shell code (`commandBlock`), which the launcher reads and `eval`s. So no env value and
 * no command text shows in a remote argv (`ps`, /proc/<pid>/cmdline, readable by every
 * local user), a command of any size fits (sshd drops the whole connection on an exec
 * request over ~256 KB), and what the command reads from stdin afterwards is its own.
 *
 * The launcher prints a marker line with the shell's PID (which is also its process
 * group, since sshd starts each session with setsid) before the command runs, so we can
 * signal the whole group later. The command is `eval`ed so a syntax error in it is
 * reported after the marker, by the same shell.
 *
 * With `sudo`, the command runs in a root shell started by `sudo -S` (found by absolute
 * path, never on PATH) with a prompt of ours (so we know when to write the password to
 * stdin, never argv), and that shell prints a ready marker (so we know sudo let us in)
 * before it reads the block. With a pty, the terminal is put in raw mode without echo
 * while the block is read, so the block is neither echoed back nor cut at a line length.
 *
 * Without a pty, a program waiting for input often prints nothing (`read -p` prompts only
 * on a terminal), so the launcher starts a probe (`stdinProbe`) just before the command:
 * it tells us on stderr, with a marker line, when a process of the job blocks reading the
 * job's stdin, and when none does any more.
 *
 * @since 0.1.0
 */
import type { SignalName } from "../domain/jobs.js"

/** Starts the marker line; the record separator keeps it out of anything a program prints. */
export const PID_MARKER = "\u001e__mcp_ssh_live_pid__:"
/** The prompt sudo prints when it wants the password. */
export const SUDO_PROMPT = "\u001e__mcp_ssh_live_sudo_prompt__\u001e"
/** Printed by the root shell once sudo has authenticated. */
export const SUDO_READY = "\u001e__mcp_ssh_live_sudo_ready__\u001e"

/** Starts the probe's line on stderr, then `1` (a process blocks reading stdin) or `0` (none does any more). */
export const STDIN_MARKER = "\u001e__mcp_ssh_live_stdin__:"
/** `STDIN_MARKER` as a printf format (the record separator in octal). */
const MARKER_FORMAT = `\\036${STDIN_MARKER.slice(1)}`

/** POSIX single-quote `s` for /bin/sh. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`


/**
 * Where sudo is looked for, in order. Never PATH: a `~/bin/sudo` planted by anyone who
 * can write the user's files would otherwise receive the sudo password.
 */
export const SUDO_PATHS = ["/usr/bin/sudo", "/bin/sudo", "/usr/sbin/sudo", "/usr/local/bin/sudo"] as const

/** Sets `S` to the first sudo of `SUDO_PATHS` that exists, or fails with 127. */
export const findSudo = `S=; for p in ${SUDO_PATHS.join(" ")}; do if [ -x "$p" ]; then S=$p; break; fi; done; ` +
  `[ -n "$S" ] || { echo "mcp-ssh-live: no sudo in ${SUDO_PATHS.join(", ")}" >&2; exit 127; }`

/**
 * Starts `$S` (then give its arguments): with `exec`, which runs the file even where the
 * account's ~/.bashrc defined a function named `/usr/bin/sudo` (bash calls such a function
 * for an absolute path too, and it would get the password), in POSIX mode, where the
 * special builtin `exec` is found before a function named `exec`. It is the last thing the
 * launcher does, so the shell's PID (the group we signal) becomes sudo's. The account's
 * rc files ran before this line and can still defeat it (`enable -n exec`, a readonly
 * POSIXLY_CORRECT, a DEBUG trap, exec of another shell): docs/SECURITY.md says so.
 */
const execSudo = `POSIXLY_CORRECT=y; exec "$S"`

export interface WrapOptions {
  readonly command: string
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly sudo?: boolean | undefined
  readonly pty?: boolean | undefined
}

/** Ends every block: a block cut short (a dropped connection) is never run. */
const BLOCK_END = "#mcp-ssh-live-end"

/** Shell lines that enter `cwd` and export `env` (values quoted, never in argv). */
const setup = (options: Pick<WrapOptions, "env" | "cwd">): Array<string> => {
  const parts: Array<string> = []
  if (options.cwd !== undefined) parts.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) parts.push(`export ${k}=${shellQuote(v)}`)
  return parts
}

/** Width of each of the two numbers of the header (right-aligned decimal). */
const WIDTH = 11
/** The header: the body's length in bytes and in lines, then a newline (24 bytes). */
const HEADER = 2 * WIDTH + 2

/**
 * What the launcher reads from stdin before the command starts: a fixed-width header
 * (`<bytes> <lines>\n`), then the body (shell code: cd, exports, `eval` of the command).
 */
export const commandBlock = (options: Pick<WrapOptions, "command" | "env" | "cwd">): Buffer => {
  const text = ["unset b", ...setup(options), `eval ${shellQuote(options.command)}`, BLOCK_END].join("\n") + "\n"
  const body = Buffer.from(text)
  const lines = text.split("\n").length - 1
  return Buffer.concat([Buffer.from(`${String(body.length).padStart(WIDTH)} ${String(lines).padStart(WIDTH)}\n`), body])
}

/** Bodies up to this size and line count are read by the shell itself (no process started). */
const SMALL_BYTES = 16384
const SMALL_LINES = 64

/**
 * The stdin probe: started (twice forked, so the command's own `wait` never waits for it,
 * holding none of the channel's pipes, so the channel closes when the command ends) just
 * before the command, by the shell that runs it (`$$`, which reads `/proc` as the same
 * user, or as root under sudo). Every 0.5 s (bash: a `read -t` on a pipe of its own, no
 * process started; other shells: `sleep`) it walks that shell and its descendants (the
 * `children` files of their tasks), reading files only, for a process whose `wchan` is a
 * pipe read, whose fd 0 is the job's stdin, and which is in `read(0, …)` per
 * `/proc/<pid>/syscall` (x86-64 0, i386/arm 3, arm64/riscv 63). That file needs ptrace
 * rights, which Yama (`ptrace_scope` 1) gives only to ancestors: where it cannot be read,
 * the process must hold no other pipe open for reading (else it may be waiting on a `$(…)`
 * or a child's output). Seen twice in a row (the same process with the same `rchar` of its
 * `io` file, so a new wait after input is a new report), it writes `STDIN_MARKER` + `1` to
 * the shell's stderr through `/proc/$$/fd/2` (if that is still a pipe); `0` once no process
 * blocks. It ends when that shell is gone (or a zombie). Where `/proc` cannot be read it finds nothing.
 */
const stdinProbe = [
  `P=$$ K= R=`,
  // That shell runs: not gone, not a zombie its parent has not reaped yet.
  `up() { l=; read -r l < /proc/$P/stat || return 1; l=\${l##*) }; case $l in Z*|X*|x*) return 1;; esac; }`,
  `nap() { sleep 0.5 || sleep 1; }`,
  `probe() { while up; do`,
  `nap`,
  `B=; set -- $P`,
  `while [ $# -gt 0 ] && [ -z "$B" ]; do`,
  `p=$1; shift`,
  `for t in /proc/$p/task/*/children; do c=; read -r c < $t; set -- "$@" $c; done`,
  `w=; read -r w < /proc/$p/wchan`,
  `case $w in *pipe_read|pipe_wait) ;; *) continue;; esac`,
  `[ /proc/$p/fd/0 -ef /proc/$P/fd/0 ] || continue`,
  `s= a=; read -r s a z < /proc/$p/syscall`,
  `if [ -n "$s" ]; then case "$s $a" in "0 0x0"|"3 0x0"|"63 0x0") ;; *) continue;; esac`,
  `else o=; for f in /proc/$p/fd/*; do [ -p "$f" ] && ! [ "$f" -ef /proc/$p/fd/0 ] || continue; ` +
  `l=; while read -r k v; do case $k in flags:) l=$v; break;; esac; done < /proc/$p/fdinfo/\${f##*/}; ` +
  `case $l in *[02]) o=1; break;; esac; done; [ -z "$o" ] || continue; fi`,
  `r=; while read -r k v; do case $k in rchar:) r=$v; break;; esac; done < /proc/$p/io`,
  `B=$p:$r`,
  `done`,
  `if [ -n "$B" ] && [ "$B" = "$K" ] && [ "$B" != "$R" ]; then`,
  `[ -p /proc/$P/fd/2 ] && printf '${MARKER_FORMAT}1\\n' > /proc/$P/fd/2 && R=$B`,
  `elif [ -z "$B" ] && [ -n "$R" ]; then R=; [ -p /proc/$P/fd/2 ] && printf '${MARKER_FORMAT}0\\n' > /proc/$P/fd/2; fi`,
  `K=$B`,
  `done; }`,
  // Under bash, wait on a pipe of its own (no process per nap); opened by a redirection of
  // the call, not `exec`, which the account's rc files may have redefined.
  `case $BASH_VERSION in [4-9].*|[1-9][0-9]*) eval 'nap() { read -t 0.5 -u 9 z; [ $? -gt 128 ] || sleep 0.5; }; probe 9<> <(:)';; *) probe;; esac`
].join("\n")

/** Start the probe in the background of the background, its own stdio on /dev/null. */
const startProbe = `( (\n${stdinProbe}\n) </dev/null >/dev/null 2>&1 & )`

/**
 * Read the block into `b` and run it, consuming nothing past it, so the command's own
 * stdin is left untouched. From a pipe the shell's `read` takes one byte at a time: it
 * reads the header and a small body itself. From a terminal in raw mode a shell's `read`
 * may take a whole buffer, so only `dd` reads: the header byte by byte, the body in one
 * read where `iflag=fullblock` exists (GNU, BusyBox), else one byte at a time (only ever
 * slow for very large commands); large bodies from a pipe are read the same way.
 */
const readAndRun = (raw: boolean): string => {
  const dd = `if [ "$n" -gt ${SMALL_BYTES} ] && dd if=/dev/null of=/dev/null iflag=fullblock 2>/dev/null; ` +
    `then b=$(dd bs="$n" count=1 iflag=fullblock 2>/dev/null); else b=$(dd bs=1 count="$n" 2>/dev/null); fi`
  const header = raw
    ? `h=$(dd bs=1 count=${HEADER} 2>/dev/null); case $h in *[!0-9[:space:]]*) h=;; esac; set -- $h; n=$1; l=$2`
    : `read -r n l`
  const loop = `b=; while [ "$l" -gt 0 ]; do IFS= read -r x || break; b="$b$x$nl"; l=$((l - 1)); done; b=\${b%"$nl"}`
  return [
    `nl='\n'; ${header}`,
    `case $n$l in ''|*[!0-9]*) echo 'mcp-ssh-live: could not read the command from stdin' >&2; exit 125;; esac`,
    raw ? dd : `if [ "$n" -le ${SMALL_BYTES} ] && [ "$l" -le ${SMALL_LINES} ]; then ${loop}; else ${dd}; fi`,
    ...(raw ? [`stty "$t" 2>/dev/null`] : []),
    `case $b in *'${BLOCK_END}') ;; *) echo 'mcp-ssh-live: the command did not arrive whole (is dd installed?)' >&2; exit 125;; esac`,
    ...(raw ? [] : [startProbe]),
    `unset n l x h nl t; eval "$b"`
  ].join("; ")
}

/** Raw, no echo, while the block is read (restored before the command runs). */
const rawTerminal = `t=$(stty -g 2>/dev/null); stty raw -echo 2>/dev/null`

/**
 * The exec request: a fixed launcher, the same for every command (only `sudo` and `pty`
 * change it). Send `commandBlock` to its stdin: at once without sudo or pty, after the
 * PID marker with a pty, after the sudo ready marker with sudo.
 */
export const wrapCommand = (options: Pick<WrapOptions, "sudo" | "pty">): string => {
  const pty = options.pty === true
  const pid = `printf '${PID_MARKER}%s\\n' "$$"`
  if (options.sudo !== true) return [...(pty ? [rawTerminal] : []), pid, readAndRun(pty)].join("; ")
  const inner = [...(pty ? [rawTerminal] : []), `printf '${SUDO_READY}\\n'`, readAndRun(pty)].join("; ")
  return `${pid}; ${findSudo}; ${execSudo} -S -p ${shellQuote(SUDO_PROMPT)} -- "\${SHELL:-/bin/sh}" -c ${shellQuote(inner)}`
}

/**
 * The launcher of a command without sudo or pty. It does nothing but print the PID marker
 * and wait for its block, so a copy can be started ahead of need and kept waiting
 * (`Connections.exec`): sshd accepts a channel's input only once the command has started
 * (it opens a session with a window of 0), so the block of a new channel reaches the host
 * a round trip after the open's; one started before saves both.
 */
export const LAUNCHER = wrapCommand({})

/** A command that sends `signal` to the process group `pgid`. */
export const killGroupCommand = (signal: SignalName, pgid: number): string =>
  `kill -s ${signal} -- -${pgid} 2>/dev/null || kill -s ${signal} ${pgid}`

/**
 * Exits 0 while the process group `pgid` has a process that is not a zombie (an exited
 * process not yet reaped, such as a job's probe orphaned to an init that reaps late,
 * would fool `kill -0`), else 1. Read from `/proc` (the state and group follow the last
 * `)` of each `stat`); without `/proc`, `kill -0` decides.
 */
export const groupAliveCommand = (pgid: number): string =>
  `if [ -r /proc/self/stat ]; then for d in /proc/[0-9]*; do l=; read -r l 2>/dev/null < "$d/stat" || continue; ` +
  `l=\${l##*) }; set -- $l; [ "$3" = ${pgid} ] && case $1 in Z|X|x) ;; *) exit 0;; esac; done; exit 1; fi; ` +
  `kill -0 -- -${pgid} 2>/dev/null || kill -0 ${pgid} 2>/dev/null`

/** `command` run as root through sudo (by absolute path), the password read from stdin. */
export const asRootCommand = (command: string): string =>
  `${findSudo}; ${execSudo} -S -p '' -- /bin/sh -c ${shellQuote(command)}`

/** The first field of a request that holds a NUL byte (no shell string can carry one), if any. */
export const fieldWithNul = (fields: Readonly<Record<string, string | Readonly<Record<string, string>> | undefined>>): string | undefined => {
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue
    if (typeof value === "string") {
      if (value.includes("\u0000")) return name
    } else {
      for (const [k, v] of Object.entries(value)) if (v.includes("\u0000")) return `${name}.${k}`
    }
  }
  return undefined
}
