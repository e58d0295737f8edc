/**
 * Scripts for persistent jobs: the command runs under `setsid nohup` with its output,
 * PID and exit code in a per-job directory on the host, so it outlives our connection
 * and this server. We read its output with a follower (`tail -c +<offset> --pid`) that
 * can be restarted from the byte offset already read.
 *
 * Layout of `~/.cache/mcp-ssh-live/jobs/<job_id>/` (directories 0700, files 0600):
 * `cmd`, `label`, `started` (epoch seconds), `pid`, `pstart` (when that process started),
 * `out`, `err`, and `exit` once the command has ended by itself.
 *
 * A PID alone does not name the job's process for ever: when the job dies without
 * recording its exit (a reboot, the OOM killer), the system gives the PID to another
 * process, maybe of the same user. The job's process is the one with that PID *and* the
 * start time in `pstart`; every script here that asks whether the job runs, follows it or
 * signals it checks both (`ownProcess`). Directories made before `pstart` existed fall
 * back to the PID and the absence of `exit`.
 *
 * @since 0.1.0
 */
import { shellQuote } from "./shell.js"

export const JOBS_DIR = "$HOME/.cache/mcp-ssh-live/jobs"
const dir = (jobId: string) => `"${JOBS_DIR}/${jobId}"`

/**
 * Shell functions: `pstart PID` prints when the process started (clock ticks since boot from
 * `/proc`, else `ps`'s start time); `own PID DIR [FILE]` succeeds while PID is the job's
 * process (alive, and started when `DIR/FILE` says; FILE is `pstart` unless named). Without
 * that file (a directory made before it existed): alive, and no exit recorded in `DIR`.
 */
export const ownProcess = [
  `pstart() { if [ -r "/proc/$1/stat" ]; then sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; else ps -o lstart= -p "$1" 2>/dev/null; fi; }`,
  `own() { kill -0 "$1" 2>/dev/null || return 1; if [ -f "$2/\${3:-pstart}" ]; then [ "$(pstart "$1")" = "$(cat "$2/\${3:-pstart}")" ]; else [ ! -f "$2/exit" ]; fi; }`
].join("\n")

/**
 * Starts the command detached and prints `PID:<pid>`; the exec channel ends at once.
 * Send `launchBlock` as its whole stdin: the command, label, env and cwd never appear in
 * the exec request, so never in a remote argv. Our files are made under umask 077; the
 * command itself runs with the user's own umask.
 */
export const launchScript = (jobId: string): string => [
  `o=$(umask); umask 077`,
  `mkdir -p "${JOBS_DIR}" && chmod 700 "$HOME/.cache/mcp-ssh-live" "${JOBS_DIR}" || exit 1`,
  `D=${dir(jobId)}`,
  `mkdir "$D" && cd "$D" || exit 1`,
  `b=$(cat); eval "$b"; unset b`,
  `printf '%s' "$c" > cmd; printf '%s' "$l" > label; unset c l`,
  `date +%s > started`,
  `: > out; : > err`,
  // The run script goes to the detached shell through a pipe, not its argv.
  `export D; printf '%s' "$r" | setsid nohup /bin/sh -c 'u=$1; r=$(cat); exec < /dev/null; eval "$r"' mcp-ssh-live "$o" > out 2> err &`,
  `unset r; echo $! > pid`,
  // Read while the process is still our child: even if it has ended, it is a zombie until we exit.
  ownProcess,
  `pstart $! > pstart`,
  `printf 'PID:%s\\n' "$!"`
].join("\n")

/** The stdin of `launchScript`: shell code that sets `c` (command), `l` (label) and `r` (the run script). */
export const launchBlock = (options: {
  readonly command: string
  readonly label: string | null
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}): string => {
  const run: Array<string> = [`umask "$u"; unset u r`]
  if (options.cwd !== undefined) run.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) run.push(`export ${k}=${shellQuote(v)}`)
  // A subshell, so that the command's own `exit` still lets us record the status.
  run.push(`( eval ${shellQuote(options.command)} ); s=$?; umask 077; echo $s > "$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"`)
  return [`c=${shellQuote(options.command)}`, `l=${shellQuote(options.label ?? "")}`, `r=${shellQuote(run.join("\n"))}`].join("\n")
}

/**
 * Streams `out` to stdout and `err` to stderr from the given byte offsets until the job's
 * process is gone (at once, once read to the end, when it is gone already).
 */
export const followScript = (jobId: string, offsets: { readonly stdout: number; readonly stderr: number }): string =>
  [
    ownProcess,
    `D=${dir(jobId)}`,
    `P=$(cat "$D/pid" 2>/dev/null) || exit 3`,
    `if own "$P" "$D"; then f="--pid=$P -f"; else f=; fi`,
    `tail -c +${offsets.stdout + 1} $f "$D/out" &`,
    `tail -c +${offsets.stderr + 1} $f "$D/err" >&2 &`,
    `wait`
  ].join("\n")

/**
 * A guard for a signal to the job's process group: succeeds only while the PID still names
 * the job's process (see the module's doc).
 */
export const ownProcessGuard = (jobId: string): string =>
  `${ownProcess}\nD=${dir(jobId)}; own "$(cat "$D/pid" 2>/dev/null)" "$D"`

/** Prints the exit code, or nothing if the command did not record one (killed). */
export const exitScript = (jobId: string): string => `cat ${dir(jobId)}/exit 2>/dev/null; true`

export const removeScript = (jobId: string): string => `rm -rf -- ${dir(jobId)}`

/**
 * One line per job directory: id, pid, started, whether it runs, label and command
 * (base64, so any text survives the tab-separated line).
 */
export const listScript = (): string =>
  `${ownProcess}\ncd "${JOBS_DIR}" 2>/dev/null || exit 0; for d in */; do d=\${d%/}; [ -f "$d/pid" ] || continue; ` +
  `p=$(cat "$d/pid"); if own "$p" "$d"; then r=1; else r=0; fi; ` +
  `printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$d" "$p" "$(cat "$d/started" 2>/dev/null)" "$r" ` +
  `"$(base64 < "$d/label" | tr -d '\\n')" "$(base64 < "$d/cmd" | tr -d '\\n')"; done`

export interface DiscoveredJob {
  readonly jobId: string
  readonly pid: number
  readonly startedAt: Date
  readonly running: boolean
  readonly label: string | null
  readonly command: string
}

export const parseList = (text: string): Array<DiscoveredJob> =>
  text.split("\n").filter((l) => l.trim() !== "").flatMap((line) => {
    const [id, pid, started, running, label, cmd] = line.split("\t")
    if (id === undefined || !/^job-[0-9a-f]+$/.test(id) || pid === undefined || cmd === undefined) return []
    const labelText = Buffer.from(label ?? "", "base64").toString("utf8")
    return [{
      jobId: id,
      pid: Number(pid),
      startedAt: new Date(Number(started ?? "0") * 1000),
      running: running === "1",
      label: labelText === "" ? null : labelText,
      command: Buffer.from(cmd, "base64").toString("utf8")
    }]
  })
