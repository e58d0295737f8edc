/**
 * A terminal job's screen as text (`ssh_screen`): a pty job's rendered by the headless
 * emulator from its raw output, a tmux job's or pane's as tmux shows it. Each read is
 * versioned per job, so a reader can ask for only the rows changed since a version it saw.
 * Secrets the job masks are masked on the screen too.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import { InvalidArgumentError } from "../domain/errors.js"
import { ScreenVersions } from "../output/ScreenVersions.js"
import { type ScreenSnapshot, TerminalScreen } from "../output/TerminalScreen.js"
import { PTY_SIZE } from "../ssh/RemoteHosts.js"
import type { Job } from "./Job.js"

export interface Screen {
  readonly cols: number
  readonly rows: number
  /** Every row (trailing blanks removed). */
  readonly lines: ReadonlyArray<string>
  readonly cursor: { readonly row: number; readonly col: number }
  readonly version: number
  /** With `since` still known: only the rows changed since it, by 0-based index. */
  readonly changed: Readonly<Record<string, string>> | undefined
}

interface State {
  readonly versions: ScreenVersions
  screen: TerminalScreen | undefined
}

// Held beside the job, and gone with it.
const states = new WeakMap<Job, State>()

const stateOf = (job: Job): State => {
  let s = states.get(job)
  if (s === undefined) {
    s = { versions: new ScreenVersions(), screen: undefined }
    states.set(job, s)
  }
  return s
}

/** A pty job's screen rendered from its output (the emulator is made on the first read). */
export const renderPty = (job: Job): Effect.Effect<ScreenSnapshot, InvalidArgumentError> =>
  Effect.suspend(() => {
    const raw = job.raw
    if (raw === undefined) {
      return Effect.fail(new InvalidArgumentError({
        message: `job_id: '${job.id}' has no terminal, so no screen`,
        hint: "start it with pty: true (or tmux: true) to use ssh_screen; ssh_tail reads its lines"
      }))
    }
    const s = stateOf(job)
    s.screen ??= new TerminalScreen(raw, PTY_SIZE.cols, PTY_SIZE.rows)
    const screen = s.screen
    return Effect.promise(() => screen.render())
  })

/** Version `snapshot` as the job's screen now (masked), with the rows changed since `since`. */
export const versioned = (job: Job, snapshot: ScreenSnapshot, since: number | undefined): Screen => {
  const lines = job.secrets.length === 0 ? snapshot.lines : snapshot.lines.map((l) => job.masked(l))
  const read = stateOf(job).versions.read(lines, snapshot.cursor, since)
  return { cols: snapshot.cols, rows: snapshot.rows, lines, cursor: snapshot.cursor, version: read.version, changed: read.changed }
}
