/**
 * Text that came from an agent or a host, made safe to show a person: in a log line (a
 * terminal reads it: ESC starts sequences that set the window title or the clipboard, a
 * newline starts a record of its own) or quoted inside a question of ours (a line or
 * paragraph separator, or a bidi override, makes the rest of the question read otherwise).
 *
 * @since 0.2.0
 */

/**
 * C0 controls, DEL and C1 controls; U+2028/U+2029 (line and paragraph separators); the bidi
 * controls (ALM, LRM, RLM, the embeddings and overrides LRE…RLO, the isolates LRI…PDI).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu

const SHORT: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

const hex = (c: string, width: number) => c.codePointAt(0)!.toString(16).padStart(width, "0")

/**
 * `text` with every control character written as a JavaScript escape: `\n`, `\r`, `\t`,
 * `\x1b` (C0, DEL, C1), `\u202e` (separators and bidi controls). What every log line
 * (stderr and MCP log notifications) goes through: one record stays one line and no
 * escape sequence reaches a terminal.
 */
export const escapeControls = (text: string): string =>
  text.replace(UNSAFE, (c) => SHORT[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`))

/**
 * `text` as a JSON string literal with, beyond what JSON escapes, DEL, C1, the line and
 * paragraph separators and the bidi controls escaped (`\u2028`): how agent text is quoted
 * inside a question put to the human, so that nothing in it can pass for our wording.
 */
export const quoteForHuman = (text: string): string =>
  JSON.stringify(text).replace(UNSAFE, (c) => `\\u${hex(c, 4)}`)
