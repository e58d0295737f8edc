/**
 * Does an unterminated line look like a program waiting for an answer? Used on a
 * job's partial line once it has stopped changing for a moment (see `Job`).
 *
 * @since 0.1.0
 */

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
