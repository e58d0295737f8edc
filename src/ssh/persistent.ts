/**
 * Scripts for persistent jobs: the command runs under `setsid nohup` with its output,
 * PID and exit code in a per-job directory on the host, so it outlives our connection
 * and this server. We read its output with a follower (`tail -c +<offset> --pid`) that
 * can be restarted from the byte offset already read.
 *
 * Layout of `~/.cache/mcp-ssh-live/jobs/<job_id>/` (directories 0700, files 0600):
 * `cmd`, `label`, `started` (epoch seconds), `pid`, `out`, `err`, and `exit` once the
 * command has ended by itself.
 *
 * @since 0.1.0
 */
import { shellQuote } from "./shell.js"

export const JOBS_DIR = "$HOME/.cache/mcp-ssh-live/jobs"
const dir = (jobId: string) => `"${JOBS_DIR}/${jobId}"`

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

/** Streams `out` to stdout and `err` to stderr from the given byte offsets until the job's process is gone. */
export const followScript = (jobId: string, offsets: { readonly stdout: number; readonly stderr: number }): string =>
  [
    `D=${dir(jobId)}`,
    `P=$(cat "$D/pid" 2>/dev/null) || exit 3`,
    `tail -c +${offsets.stdout + 1} --pid="$P" -f "$D/out" &`,
    `tail -c +${offsets.stderr + 1} --pid="$P" -f "$D/err" >&2 &`,
    `wait`
  ].join("\n")

/** Prints the exit code, or nothing if the command did not record one (killed). */
export const exitScript = (jobId: string): string => `cat ${dir(jobId)}/exit 2>/dev/null; true`

export const removeScript = (jobId: string): string => `rm -rf -- ${dir(jobId)}`

/**
 * One line per job directory: id, pid, started, whether it runs, label and command
 * (base64, so any text survives the tab-separated line).
 */
export const listScript = (): string =>
  `cd "${JOBS_DIR}" 2>/dev/null || exit 0; for d in */; do d=\${d%/}; [ -f "$d/pid" ] || continue; ` +
  `p=$(cat "$d/pid"); if kill -0 "$p" 2>/dev/null; then r=1; else r=0; fi; ` +
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
