/**
 * Scripts for jobs that run in tmux on the host, so that a person can attach to them, and
 * for following a tmux pane a person already has.
 *
 * A job of ours runs in a session `mcp-<job_id>` of a tmux server of our own (socket name
 * `mcp-ssh-live`, so our sessions and options never mix with the person's), started
 * detached. Its output reaches us through `pipe-pane` into a file, read by a follower
 * (`tail -c +<offset> --pid -f`) that can resume from the byte offset already read, as
 * for persistent jobs: nothing is lost when our connection drops or this server restarts,
 * and the bytes are the program's own (escapes and all; tmux merges stdout and stderr).
 *
 * Why pipe-pane into a file and not a control-mode client (`tmux -C attach`): a control
 * client lives as long as our connection and loses what is printed while we are away; it
 * also counts as a client of the session (its size) and its `%output` needs decoding.
 * pipe-pane is the pane's raw output, kept on the host while we are gone.
 *
 * Nothing is lost at the start or the end either:
 * - the pane runs a wrapper that waits on a FIFO for the command until the pipe is set up,
 *   so the command's first byte is piped; the command, env and cwd travel through that
 *   FIFO (never an argv, never a file);
 * - the wrapper runs the command as a job of its own (`set -m`: its own process group, in
 *   the terminal's foreground, so a person's Ctrl-C reaches it and our signals go to its
 *   group, not the wrapper), records its exit status, then prints an end marker (an OSC
 *   sequence terminals ignore, with a nonce of the job) through the same terminal: once
 *   the follower has read the marker, every byte before it is in.
 * - `remain-on-exit` keeps the pane (and its last screen) after the command ends, until the
 *   job is removed or its host disconnected.
 *
 * Layout of `~/.cache/mcp-ssh-live/tmux/<job_id>/` (0700; files 0600): `kind` (job or
 * pane), `cmd`, `label`, `started`, `pane` (%id), `wpid` (the wrapper, or the person's pane
 * process), `pid` (the command's process group), `nonce`, `out`, `exit`; for a job
 * `wpstart` and `pstart` (when the wrapper and the command started: a PID alone may have
 * gone to another process since, after a reboot or the OOM killer, as for persistent jobs);
 * for a followed pane `catpid` (the pipe's reader).
 *
 * @since 0.4.0
 */
import { ownProcess } from "./persistent.js"
import { shellQuote } from "./shell.js"

/** Where a job's input and screen go: a tmux pane. */
export interface TmuxTarget {
  /** The tmux server's socket name (`tmux -L`); undefined: the user's default server. */
  readonly socket: string | undefined
  /** Our session for a job we started (`mcp-<job_id>`); undefined for a followed pane. */
  readonly session: string | undefined
  /** The pane's id (`%3`): stable while the pane lives. */
  readonly pane: string
}

/** Our tmux server's socket name. */
export const SOCKET = "mcp-ssh-live"
/** The size a job's session starts with (a person who attaches resizes it to theirs). */
export const SESSION_SIZE = { cols: 120, rows: 40 } as const

export const TMUX_DIR = "$HOME/.cache/mcp-ssh-live/tmux"
const dir = (jobId: string) => `"${TMUX_DIR}/${jobId}"`

/** Exit codes of our scripts. */
export const NO_TMUX = 127
export const NO_PANE = 3
export const PANE_PIPED = 4

export const sessionName = (jobId: string) => `mcp-${jobId}`

const tmux = (socket: string | undefined) => (socket === undefined ? "tmux" : `tmux -L ${socket}`)
const needTmux = `command -v tmux >/dev/null 2>&1 || { echo 'mcp-ssh-live: tmux is not installed on this host' >&2; exit ${NO_TMUX}; }`
const makeDir = (jobId: string) =>
  [
    `umask 077`,
    `mkdir -p "${TMUX_DIR}" && chmod 700 "$HOME/.cache/mcp-ssh-live" "${TMUX_DIR}" || exit 1`,
    `D=${dir(jobId)}`,
    // The directory is named in shell text that tmux runs: keep it plain.
    `case $D in *"'"*|*'\\'*) echo 'mcp-ssh-live: $HOME holds a quote' >&2; exit 1;; esac`,
    `mkdir "$D" && cd "$D" || exit 1`
  ]

/** The end marker the wrapper prints after the command (an OSC sequence: terminals ignore it). */
export const endMarker = (nonce: string): Buffer => Buffer.from(`\u001b]mcp-ssh-live;end;${nonce}\u0007`)

/** Run by the pane: waits for the command on the FIFO, runs it as a job, records its status, prints the marker. */
const WRAPPER = [
  `D=$1`,
  `r=$(cat "$D/go"); rm -f "$D/go"`,
  `set -m`,
  `R=$r /bin/sh -c 'echo $$ > "$1/pid"; r=$R; unset R; set --; eval "$r"' mcp-ssh-live "$D"`,
  `s=$?`,
  `umask 077; echo $s > "$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"`,
  `printf '\\033]mcp-ssh-live;end;%s\\007' "$(cat "$D/nonce")"`
].join("\n")

/**
 * Starts the job's session and prints `PID:<pgid> WPID:<wrapper> PANE:<%id>`. Send
 * `launchBlock` as its whole stdin. Exit 127: no tmux.
 */
export const launchScript = (jobId: string): string => {
  const s = tmux(SOCKET)
  const session = sessionName(jobId)
  return [
    needTmux,
    `o=$(umask)`,
    ...makeDir(jobId),
    `b=$(cat); eval "$b"; unset b`,
    `printf '%s' "$c" > cmd; printf '%s' "$l" > label; printf '%s' "$n" > nonce; printf job > kind; unset c l n`,
    `date +%s > started; : > out`,
    `mkfifo go || exit 1`,
    `printf '%s\\n' ${shellQuote(WRAPPER)} > wrap`,
    `P=$(${s} new-session -d -s ${session} -x ${SESSION_SIZE.cols} -y ${SESSION_SIZE.rows} -P -F '#{pane_id} #{pane_pid}' "exec /bin/sh '$D/wrap' '$D'") || { rm -rf "$D"; exit 1; }`,
    `set -- $P; printf '%s' "$1" > pane; printf '%s' "$2" > wpid`,
    `${s} set-option -w -t ${session} remain-on-exit on >/dev/null`,
    `${s} pipe-pane -t "$1" "exec cat >> '$D/out'" || { ${s} kill-session -t ${session}; rm -rf "$D"; exit 1; }`,
    // The command goes to the wrapper through the FIFO once the pipe is set up.
    `{ printf 'umask %s\\n' "$o"; printf '%s' "$r"; } > go & g=$!; unset r`,
    `i=0; while [ ! -s pid ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done`,
    `[ -s pid ] || { kill $g 2>/dev/null; ${s} kill-session -t ${session}; rm -rf "$D"; echo 'mcp-ssh-live: the command did not start in its tmux session' >&2; exit 1; }`,
    ownProcess,
    `p=$(cat pid); pstart "$p" > pstart; pstart "$2" > wpstart`,
    `printf 'PID:%s WPID:%s PANE:%s\\n' "$p" "$2" "$1"`
  ].join("\n")
}

/** The stdin of `launchScript`: sets `c` (command), `l` (label), `n` (nonce), `r` (cd, env, the command). */
export const launchBlock = (options: {
  readonly command: string
  readonly label: string | null
  readonly nonce: string
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}): string => {
  const run: Array<string> = []
  if (options.cwd !== undefined) run.push(`cd -- ${shellQuote(options.cwd)} || exit 1`)
  for (const [k, v] of Object.entries(options.env ?? {})) run.push(`export ${k}=${shellQuote(v)}`)
  run.push(`eval ${shellQuote(options.command)}`)
  return [
    `c=${shellQuote(options.command)}`,
    `l=${shellQuote(options.label ?? "")}`,
    `n=${shellQuote(options.nonce)}`,
    `r=${shellQuote(run.join("\n"))}`
  ].join("\n")
}

/**
 * Follow an existing pane (`target`: `session:window.pane` or `%id`, on the user's default
 * tmux server): pipe its output into the job's file from now on. Prints `PANE:<%id> PID:<pid>`.
 * Send `l=<label>` as stdin. Exit 127: no tmux; 3: no such pane; 4: it is piped already.
 */
export const followPaneScript = (jobId: string, target: string): string =>
  [
    needTmux,
    `I=$(tmux display-message -p -t ${shellQuote(target)} '#{pane_id} #{pane_pid} #{pane_pipe}' 2>&1) || { printf '%s\\n' "$I" >&2; exit ${NO_PANE}; }`,
    `set -- $I`,
    `[ "$3" = 0 ] || { echo 'mcp-ssh-live: the pane is piped already (pipe-pane)' >&2; exit ${PANE_PIPED}; }`,
    ...makeDir(jobId),
    `b=$(cat); eval "$b"; unset b`,
    `printf pane > kind; printf '%s' "$1" > pane; printf '%s' "$2" > wpid; printf '%s' "$l" > label; unset l`,
    `printf '%s' ${shellQuote(`tmux pane ${target}`)} > cmd; date +%s > started; : > out`,
    `tmux pipe-pane -o -t "$1" "echo \\$\\$ > '$D/catpid'; exec cat >> '$D/out'" || { rm -rf "$D"; exit 1; }`,
    `i=0; while [ ! -s catpid ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i + 1)); done`,
    `printf 'PANE:%s PID:%s\\n' "$1" "$2"`
  ].join("\n")

/**
 * Streams the job's file from the byte offset already read until the process writing it is
 * gone: the wrapper (a job), or the pipe's reader (a followed pane).
 */
export const followScript = (jobId: string, offset: number, kind: "job" | "pane"): string =>
  [
    ownProcess,
    `D=${dir(jobId)}`,
    `P=$(cat "$D/${kind === "job" ? "wpid" : "catpid"}" 2>/dev/null) || exit ${NO_PANE}`,
    // A wrapper PID that is no longer the wrapper's: read what the file holds, follow no one.
    kind === "job" ? `if own "$P" "$D" wpstart; then f="--pid=$P -f"; else f=; fi` : `f="--pid=$P -f"`,
    `exec tail -c +${offset + 1} $f "$D/out"`
  ].join("\n")

/**
 * A guard for a signal to a tmux job's process group: succeeds only while the PID still
 * names the job's command (started when `pstart` says).
 */
export const tmuxProcessGuard = (jobId: string): string =>
  `${ownProcess}\nD=${dir(jobId)}; own "$(cat "$D/pid" 2>/dev/null)" "$D"`

/** Prints the exit code, or nothing if the command recorded none. */
export const exitScript = (jobId: string): string => `cat ${dir(jobId)}/exit 2>/dev/null; true`

/**
 * Remove what the job left: our session (a job), or our pipe on the person's pane (a
 * followed pane: closed only while our reader still holds it), then its directory.
 */
export const removeScript = (jobId: string, target: TmuxTarget): string =>
  [
    `D=${dir(jobId)}`,
    target.session !== undefined
      ? `${tmux(target.socket)} kill-session -t ${shellQuote(`=${target.session}`)} 2>/dev/null`
      : `p=$(cat "$D/catpid" 2>/dev/null) && kill -0 "$p" 2>/dev/null && ${tmux(target.socket)} pipe-pane -t ${shellQuote(target.pane)}`,
    `rm -rf -- "$D"`
  ].join("; ")

/**
 * The pane's screen: a line `<cursor_x> <cursor_y> <width> <height>`, then its rows as
 * tmux shows them (plain text).
 */
export const captureScript = (target: TmuxTarget): string => {
  const t = tmux(target.socket)
  const pane = shellQuote(target.pane)
  return `${t} display-message -p -t ${pane} '#{cursor_x} #{cursor_y} #{pane_width} #{pane_height}' && ${t} capture-pane -p -t ${pane}`
}

/**
 * Type into the pane: the channel's stdin (when `data`) pasted as typed (a newline is
 * Enter), then `keys` (tmux key names, already checked).
 */
export const inputScript = (jobId: string, target: TmuxTarget, data: boolean, keys: ReadonlyArray<string>): string => {
  const t = tmux(target.socket)
  const pane = shellQuote(target.pane)
  const buffer = shellQuote(`mcp-in-${jobId}`)
  const steps: Array<string> = []
  if (data) steps.push(`${t} load-buffer -b ${buffer} - && ${t} paste-buffer -d -b ${buffer} -t ${pane}`)
  if (keys.length > 0) steps.push(`${t} send-keys -t ${pane} ${keys.map(shellQuote).join(" ")}`)
  return steps.length === 0 ? "true" : steps.join(" && ")
}

/**
 * Every pane of the user's default tmux server, one per line: the fixed fields first, then
 * `session:command` (tmux shows a tab or any control character in a format as `_` or `\t`
 * to a client without a UTF-8 locale, and a session name never holds `:`).
 */
export const listPanesScript = (): string =>
  `${needTmux}; tmux list-panes -a -F ` +
  shellQuote("#{pane_id} #{pane_width}x#{pane_height} #{session_attached} #{window_index}.#{pane_index} #{session_name}:#{pane_current_command}") +
  ` 2>/dev/null; true`

export interface Pane {
  /** `session:window.pane`. */
  readonly target: string
  readonly paneId: string
  readonly command: string
  /** `<cols>x<rows>`. */
  readonly size: string
  /** A person has the session open (clients attached). */
  readonly attached: boolean
}

const PANE_LINE = /^(%\d+) (\d+x\d+) (\d+) (\d+\.\d+) (.*?):(.*)$/

export const parsePanes = (text: string): Array<Pane> =>
  text.split("\n").flatMap((line) => {
    const m = PANE_LINE.exec(line)
    if (m === null) return []
    return [{ target: `${m[5]}:${m[4]}`, paneId: m[1]!, command: m[6]!, size: m[2]!, attached: Number(m[3]) > 0 }]
  })

/**
 * One line per job directory: id, kind, pid, wpid, whether the writer still runs (a job's
 * wrapper: that PID, started when `wpstart` says), pane, started, nonce, and label and
 * command in base64.
 */
export const listScript = (): string =>
  `${ownProcess}\n` +
  `cd "${TMUX_DIR}" 2>/dev/null || exit 0; for d in */; do d=\${d%/}; [ -f "$d/pane" ] || continue; ` +
  `k=$(cat "$d/kind" 2>/dev/null); if [ "$k" = pane ]; then w=$(cat "$d/catpid" 2>/dev/null); else w=$(cat "$d/wpid" 2>/dev/null); fi; ` +
  `if [ -z "$w" ]; then r=0; elif [ "$k" = pane ]; then if kill -0 "$w" 2>/dev/null; then r=1; else r=0; fi; ` +
  `elif own "$w" "$d" wpstart; then r=1; else r=0; fi; ` +
  `printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$d" "$k" "$(cat "$d/pid" 2>/dev/null)" "$(cat "$d/wpid" 2>/dev/null)" "$r" ` +
  `"$(cat "$d/pane")" "$(cat "$d/started" 2>/dev/null)" "$(cat "$d/nonce" 2>/dev/null)" ` +
  `"$(base64 < "$d/label" | tr -d '\\n')" "$(base64 < "$d/cmd" | tr -d '\\n')"; done`

export interface FoundTmuxJob {
  readonly jobId: string
  readonly kind: "job" | "pane"
  readonly pid: number | null
  readonly running: boolean
  readonly pane: string
  readonly startedAt: Date
  readonly nonce: string
  readonly label: string | null
  readonly command: string
}

export const parseList = (text: string): Array<FoundTmuxJob> =>
  text.split("\n").filter((l) => l.trim() !== "").flatMap((line) => {
    const [id, kind, pid, _wpid, running, pane, started, nonce, label, cmd] = line.split("\t")
    if (id === undefined || !/^job-[0-9a-f]+$/.test(id) || pane === undefined || cmd === undefined) return []
    const labelText = Buffer.from(label ?? "", "base64").toString("utf8")
    return [{
      jobId: id,
      kind: kind === "pane" ? "pane" : "job",
      pid: /^\d+$/.test(pid ?? "") ? Number(pid) : null,
      running: running === "1",
      pane,
      startedAt: new Date(Number(started ?? "0") * 1000),
      nonce: nonce ?? "",
      label: labelText === "" ? null : labelText,
      command: Buffer.from(cmd, "base64").toString("utf8")
    }]
  })

/**
 * What a person runs to watch or take over the job, in terms their own ssh understands:
 * the alias when the host came from their ~/.ssh/config, else user@address and the port.
 */
export const attachCommand = (
  host: { readonly alias: string; readonly address: string; readonly port: number; readonly user: string; readonly source: string },
  target: TmuxTarget
): string | undefined => {
  if (target.session === undefined) return undefined
  const where = host.source === "ssh-config" ? host.alias : `${host.port !== 22 ? `-p ${host.port} ` : ""}${host.user}@${host.address}`
  return `ssh -t ${where} ${tmux(target.socket)} attach -t ${target.session}`
}
