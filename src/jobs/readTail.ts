/**
 * The tail algorithm: lines past the agent's cursor, waiting as the agent allows.
 * `readTail` is one pure step — read what the store holds now, add it to what was
 * collected, and decide whether to return or to wait for more; `waitTail` is the
 * small Effect that repeats the step, sleeping on the job's change signal between
 * steps and on `Clock` for the deadline.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { Line, ReadOptions, ReadResult } from "../output/RingBuffer.js"
import type { Job } from "./Job.js"
import { jobInfo, type TailRequest, type TailResult } from "./model.js"

/** What `readTail` needs of a job's line store. */
export interface LineSource {
  read(options: ReadOptions): ReadResult
  /** The n of the newest line stored (0 if none). */
  readonly lastLineNo: number
}

/** What was collected so far, carried from one step to the next. */
export interface TailState {
  readonly since: number
  readonly lines: ReadonlyArray<Line>
  /** The lines' texts joined by "\n", while every read gave them so (see `ReadResult`). */
  readonly text?: string | undefined
  readonly bytes: number
  readonly dropped: number
  readonly more: boolean
  readonly matched: Line | null
}

/** The job as the step sees it. */
export interface TailJobState {
  readonly running: boolean
  readonly awaitingInput: boolean
  /** It was awaiting input when the request came in (that prompt is not news). */
  readonly wasAwaiting: boolean
  /** Milliseconds left of the request's `waitMs`. */
  readonly remainingMs: number
}

export const initialTailState = (since: number): TailState => ({ since, lines: [], bytes: 0, dropped: 0, more: false, matched: null })

/** How many new lines end the wait: `minLines`, else 1 without `until` and never (the match decides) with it. */
export const minLinesOf = (request: Pick<TailRequest, "minLines" | "until">): number =>
  request.minLines ?? (request.until === undefined ? 1 : Number.POSITIVE_INFINITY)

/**
 * One step: read past `state.since` within what is left of the caps, stop at the first
 * `until` match, and decide: `done` (return the state now) or wait for a change.
 */
export const readTail = (
  store: LineSource,
  request: Omit<TailRequest, "jobId" | "waitMs" | "last">,
  state: TailState,
  job: TailJobState
): { readonly state: TailState; readonly done: boolean } => {
  const read = store.read({
    since: state.since,
    stream: request.stream,
    maxLines: request.maxLines - state.lines.length,
    maxBytes: Math.max(1, request.maxBytes - state.bytes)
  })
  const lines = state.lines.length === 0 ? read.lines : [...state.lines, ...read.lines]
  let text = state.lines.length === 0 ? read.text : joined(state.text, read.lines.length === 0 ? "" : read.text)
  let bytes = state.bytes + read.bytes
  let matched: Line | null = state.matched
  if (request.until !== undefined && matched === null) {
    const at = read.lines.findIndex((line) => request.until!.test(line.text))
    if (at >= 0) {
      matched = read.lines[at]!
      // The lines after the match are not taken. UTF-8 bytes, as the store counts them (a
      // string's length counts UTF-16 units).
      for (let k = at + 1; k < read.lines.length; k++) bytes -= Buffer.byteLength(read.lines[k]!.text)
      lines.length -= read.lines.length - 1 - at
      if (at < read.lines.length - 1) text = undefined
    }
  }
  const dropped = state.dropped + read.dropped
  if (matched !== null) {
    return { state: { since: matched.n, lines, text, bytes, dropped, more: store.lastLineNo > matched.n, matched }, done: true }
  }
  const next: TailState = { since: read.nextLineNo, lines, text, bytes, dropped, more: read.more, matched }
  const full = lines.length >= request.maxLines || bytes >= request.maxBytes || read.more
  const enough = lines.length >= minLinesOf(request)
  const prompt = job.awaitingInput && (!job.wasAwaiting || lines.length > 0)
  return { state: next, done: full || enough || !job.running || job.remainingMs <= 0 || prompt }
}

/** `a` and `b`, texts of lines, as one (undefined when either is not known; `b` "" adds no line). */
const joined = (a: string | undefined, b: string | undefined): string | undefined =>
  a === undefined || b === undefined ? undefined : b === "" ? a : `${a}\n${b}`

/** The job's host, as a tail sees it: nothing arrives while it is down, so a wait ends. */
export interface TailHost {
  /** Whether the host is connected now. */
  readonly up: Effect.Effect<boolean>
  /**
   * Completes when its connection closes (at once when there is none): what wakes a wait on a
   * job whose own channel does not end with the connection (a persistent job's follower is
   * started again). Without it, only the job's own changes wake the wait.
   */
  readonly down?: Effect.Effect<void> | undefined
}

/**
 * Lines past the cursor (or the `last` newest ones), waiting up to `waitMs` for `minLines` of
 * them (or a match of `until`, the end, a new prompt, the host going down). After the
 * deadline one last read, so a line that arrived with it is not left for later.
 */
export const waitTail = (job: Job, request: TailRequest, host?: TailHost): Effect.Effect<TailResult> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + request.waitMs
    const wasAwaiting = job.awaitingInput
    let state = initialTailState(request.last === undefined ? request.since : job.ring.sinceForLast(request.stream, request.last))
    for (;;) {
      const seen = job.changes.version
      const remainingMs = deadline - (yield* Clock.currentTimeMillis)
      const step = readTail(job.ring, request, state, { running: job.running, awaitingInput: job.awaitingInput, wasAwaiting, remainingMs })
      state = step.state
      if (step.done || (host !== undefined && !(yield* host.up))) break
      const changed = job.changes.changedSince(seen)
      yield* (host?.down === undefined ? changed : Effect.raceFirst(changed, host.down)).pipe(Effect.timeoutOption(remainingMs))
    }
    return {
      lines: state.lines,
      ...(state.text === undefined ? {} : { text: state.text }),
      nextLineNo: state.since,
      dropped: state.dropped,
      partial: job.partial,
      more: state.more,
      matched: state.matched,
      job: jobInfo(job)
    }
  })
