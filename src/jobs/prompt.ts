/**
 * Does an unterminated line look like a program waiting for an answer? Judged on a
 * job's partial line once its output has been quiet for a moment (`watchPrompt`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Job } from "./Job.js"

const ENDINGS = /(?:[:?>\]]|\) )\s*$/
const WORDS = /password|passphrase|\[y\/n\]|\(yes\/no(?:\/\[fingerprint\])?\)|\[Y\/n\]|\[y\/N\]/i
/** Progress bars and counters end in ':' or ']' too, but their line is mostly digits and bar characters. */
const PROGRESS = /\d{1,3}(?:\.\d+)?\s*%|[#=>\-]{8,}|[█▏▎▍▌▋▊▉]/

/** True when `partial` looks like a prompt. */
export const looksLikePrompt = (partial: string): boolean => {
  const text = partial.trimEnd()
  if (text.length === 0 || text.length > 512) return false
  if (WORDS.test(text)) return true
  if (PROGRESS.test(text)) return false
  return ENDINGS.test(partial)
}

/** How long the partial line must stay unchanged before we call it a prompt. */
export const PROMPT_QUIET_MS = 300

/**
 * Runs beside a job for its lifetime: once its output has been quiet for
 * `PROMPT_QUIET_MS` and the partial line looks like a prompt, marks the job as
 * awaiting input. Sleeps on the job's change signal, then on `Clock` until the output
 * is quiet: it wakes at most once per `PROMPT_QUIET_MS` while output flows, never per
 * chunk, and never later than `PROMPT_QUIET_MS` after the last chunk. Each stretch of
 * output is judged once.
 */
export const watchPrompt = (job: Job): Effect.Effect<void> =>
  Effect.gen(function*() {
    /** Output position (bytes read) at the last judgement. */
    let judged = -1
    for (;;) {
      const seen = job.changes.version
      if (!job.running) return
      const at = job.offsets.stdout + job.offsets.stderr
      if (at === judged) {
        yield* job.changes.changedSince(seen)
        continue
      }
      const left = PROMPT_QUIET_MS - job.quietForMs
      if (left > 0) {
        yield* Effect.sleep(left)
        continue
      }
      judged = at
      if (looksLikePrompt(job.partial)) job.markAwaitingInput()
    }
  })
