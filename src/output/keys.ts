/**
 * Named keys (`ssh_send_stdin`'s `keys`) as a terminal sends them: the xterm escape
 * sequences a pty job reads, or the key names `tmux send-keys` takes (tmux then writes
 * the sequence the pane's program expects).
 *
 * Arrows, Home and End depend on the program's cursor-key mode: `ESC [ A` normally,
 * `ESC O A` once it asked for application mode (vim, less, top do), as xterm does.
 *
 * @since 0.4.0
 */

export interface Key {
  /** The bytes a pty job gets, in the program's cursor-key mode. */
  readonly sequence: (applicationCursor: boolean) => string
  /** The name for `tmux send-keys`. */
  readonly tmux: string
}

const fixed = (sequence: string, tmux: string): Key => ({ sequence: () => sequence, tmux })
const cursor = (final: string, tmux: string): Key => ({
  sequence: (app) => (app ? `\x1bO${final}` : `\x1b[${final}`),
  tmux
})

const named: Record<string, Key> = {
  enter: fixed("\r", "Enter"),
  return: fixed("\r", "Enter"),
  tab: fixed("\t", "Tab"),
  btab: fixed("\x1b[Z", "BTab"),
  "s-tab": fixed("\x1b[Z", "BTab"),
  esc: fixed("\x1b", "Escape"),
  escape: fixed("\x1b", "Escape"),
  space: fixed(" ", "Space"),
  backspace: fixed("\x7f", "BSpace"),
  bspace: fixed("\x7f", "BSpace"),
  delete: fixed("\x1b[3~", "DC"),
  del: fixed("\x1b[3~", "DC"),
  insert: fixed("\x1b[2~", "IC"),
  up: cursor("A", "Up"),
  down: cursor("B", "Down"),
  right: cursor("C", "Right"),
  left: cursor("D", "Left"),
  home: cursor("H", "Home"),
  end: cursor("F", "End"),
  pageup: fixed("\x1b[5~", "PPage"),
  pgup: fixed("\x1b[5~", "PPage"),
  ppage: fixed("\x1b[5~", "PPage"),
  pagedown: fixed("\x1b[6~", "NPage"),
  pgdn: fixed("\x1b[6~", "NPage"),
  npage: fixed("\x1b[6~", "NPage")
}

/** F1–F4 are SS3 P–S, F5–F12 CSI n ~ (xterm). */
const FUNCTION_KEYS = ["\x1bOP", "\x1bOQ", "\x1bOR", "\x1bOS", "\x1b[15~", "\x1b[17~", "\x1b[18~", "\x1b[19~", "\x1b[20~", "\x1b[21~", "\x1b[23~", "\x1b[24~"]
for (const [i, seq] of FUNCTION_KEYS.entries()) named[`f${i + 1}`] = fixed(seq, `F${i + 1}`)

/** Ctrl with the characters that have a control code (`C-c` is ETX, `C-[` is ESC, `C-?` is DEL). */
const control = (c: string): string | undefined => {
  if (c === "?") return "\x7f"
  if (c === " ") return "\x00"
  const code = c.toUpperCase().charCodeAt(0)
  return c.length === 1 && code >= 0x40 && code <= 0x5f ? String.fromCharCode(code & 0x1f) : undefined
}

/** The key called `name`, or undefined when it is not one we know. */
export const parseKey = (name: string): Key | undefined => {
  const known = named[name.toLowerCase()]
  if (known !== undefined) return known
  const m = /^([CcMm])-(.)$/u.exec(name)
  if (m === null) return undefined
  const c = m[2]!
  if (m[1] === "C" || m[1] === "c") {
    const code = control(c)
    return code === undefined ? undefined : fixed(code, `C-${c === " " ? "Space" : c.toLowerCase()}`)
  }
  // Alt (meta): ESC before the character, as xterm sends it with metaSendsEscape.
  return c >= " " && c <= "~" ? fixed(`\x1b${c}`, `M-${c}`) : undefined
}

/** The names described to the agent. */
export const KEY_NAMES_HELP = "Enter Tab BTab Esc Space Backspace Delete Insert Up Down Left Right Home End PageUp PageDown F1-F12 C-<x> M-<x>"
