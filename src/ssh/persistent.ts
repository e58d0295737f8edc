/**
 * Scripts for persistent jobs: the command runs under `setsid nohup` with its output,
 * PID and exit code in a per-job directory on the host, so it outlives our connection
 * and this server. We read its output with a follower (`tail -c +<offset> --pid`) that
 * can be restarted from the byte offset already read.
 *
 * Layout of `~/.cache/mcp-ssh-live/jobs/<job_id>/`: `cmd`, `label`, `started` (epoch
 * seconds), `pid`, `out`, `err`, and `exit` once the command has ended by itself.
 *
 * @since 0.1.0
 */
import { shellQuote } from "./shell.js"

export const JOBS_DIR = "$HOME/.cache/mcp-ssh-live/jobs"
const dir = (jobId: string) => `"${JOBS_DIR}/${jobId}"`

/** Starts the command detached and prints `PID:<pid>`; the exec channel ends at once. */
export const launchScript = (options: {
  readonly jobId: string
  readonly command: string
  readonly label: string | null
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}): string => {
  const d = dir(options.jobId)
  const setup: Array<string> = []
  if (options.cwd !== undefined) setup.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) setup.push(`export ${k}=${shellQuote(v)}`)
  // The command runs in a subshell so that its own `exit` still lets us record the status.
  const inner = [...setup, `( eval ${shellQuote(options.command)} )`, `echo $? > "$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"`].join("; ")
  return [
    `D=${d}`,
    `mkdir -p "$D" && cd "$D" || exit 1`,
    `printf '%s' ${shellQuote(options.command)} > cmd`,
    `printf '%s' ${shellQuote(options.label ?? "")} > label`,
    `date +%s > started`,
    `: > out; : > err`,
    `export D; setsid nohup /bin/sh -c ${shellQuote(inner)} > out 2> err < /dev/null &`,
    `echo $! > pid`,
    `printf 'PID:%s\\n' "$!"`
  ].join("\n")
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
