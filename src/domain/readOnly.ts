/**
 * The read-only allow list of the opt-in policy (`read_only = true`): which commands may
 * run, and a deliberately small shell grammar they must be written in. A seat belt, not a
 * sandbox: it refuses what could obviously write, and anything it cannot read with
 * certainty. It cannot see what a command does on the host (a `PATH` entry, a shell
 * function or an alias named `ls`, a wrapper script), nor stop reading secrets.
 *
 * The grammar: words of the characters `A-Z a-z 0-9 _ . / : = , + @ % ^ ~ -`, or quoted
 * ('…' literally; "…" without `$`, backquotes, `\` or `!`), joined by `|`, `||`, `&&` or
 * `;` into a list of simple commands, each of which must be read-only. Redirections are
 * refused except `>/dev/null`, `2>/dev/null` and `2>&1`. Refused outside quotes: `$`
 * (expansions, `$(…)`), backquotes, `\`, `( ) { }` (subshells, brace expansion), `< >`
 * (other redirections, here-docs, process substitution), a lone `&`, `#`, `!`, the glob
 * characters `* ? [ ]` (a file named `-delete` would become an option), newlines and any
 * other character.
 *
 * @since 0.2.0
 */

/** One command of the allow list and what it must not be given. */
export interface ReadOnlyCommand {
  /** When set, the first operand must be one of these (`systemctl status`). */
  readonly subcommands?: ReadonlyArray<string>
  /** Short option letters refused, alone or in a cluster (`sort -o FILE`, `-uo`). */
  readonly forbidShort?: string
  /** Long options refused, and any abbreviation of them GNU getopt would accept (`--out`). */
  readonly forbidLong?: ReadonlyArray<string>
  /** Words refused anywhere (`find -delete`). */
  readonly forbidWords?: ReadonlyArray<string>
  /** At most this many operands (`uniq IN OUT` writes OUT; `hostname NAME` sets it). */
  readonly maxOperands?: number
  /** Every operand must match (`date +%F`, never `date 0101…`). */
  readonly operand?: RegExp
}

const plain: ReadOnlyCommand = {}

/**
 * The commands `read_only` lets through, with their restrictions. Anything else is refused:
 * editors, pagers (`less` runs `!cmd`), interpreters (`awk`, `sed`, `python`), anything that
 * runs another command (`env`, `xargs`, `sudo`, `nice`, `timeout`, `watch`), `tee`, `dd`,
 * `git` (hooks, pagers and diff drivers run code).
 */
export const readOnlyCommands: Readonly<Record<string, ReadOnlyCommand>> = {
  // Files and text
  ls: plain,
  cat: plain,
  tac: plain,
  head: plain,
  tail: plain,
  wc: plain,
  nl: plain,
  cut: plain,
  tr: { maxOperands: 2 },
  rev: plain,
  strings: plain,
  od: plain,
  hexdump: plain,
  base64: plain,
  grep: plain,
  egrep: plain,
  fgrep: plain,
  zgrep: plain,
  zcat: plain,
  diff: plain,
  cmp: plain,
  stat: plain,
  file: { forbidShort: "C", forbidLong: ["--compile"] },
  readlink: plain,
  realpath: plain,
  basename: plain,
  dirname: plain,
  md5sum: plain,
  sha1sum: plain,
  sha256sum: plain,
  sha512sum: plain,
  jq: plain,
  sort: { forbidShort: "o", forbidLong: ["--output", "--compress-program"] },
  uniq: { maxOperands: 1 },
  find: {
    forbidWords: ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"]
  },
  // Disks and memory
  df: plain,
  du: plain,
  free: plain,
  lsblk: plain,
  findmnt: plain,
  // Processes and system
  ps: plain,
  pgrep: plain,
  uptime: plain,
  uname: plain,
  whoami: plain,
  id: plain,
  groups: plain,
  who: plain,
  w: plain,
  last: plain,
  getent: plain,
  nproc: plain,
  lscpu: plain,
  lsmod: plain,
  vmstat: plain,
  iostat: plain,
  mpstat: plain,
  printenv: plain,
  pwd: plain,
  echo: plain,
  printf: plain,
  true: plain,
  which: plain,
  hostname: { maxOperands: 0, forbidShort: "Fb", forbidLong: ["--file", "--boot"] },
  date: {
    forbidShort: "s",
    forbidLong: ["--set"],
    operand: /^\+/
  },
  dmesg: {
    forbidShort: "cCDEn",
    forbidLong: ["--clear", "--read-clear", "--console-off", "--console-on", "--console-level"]
  },
  // Network
  ss: { forbidShort: "KD", forbidLong: ["--kill", "--diag"] },
  netstat: plain,
  // Services and logs
  systemctl: {
    subcommands: [
      "status", "show", "cat", "is-active", "is-enabled", "is-failed", "list-units", "list-unit-files",
      "list-timers", "list-sockets", "list-dependencies", "list-jobs"
    ]
  },
  journalctl: {
    forbidLong: [
      "--vacuum-size", "--vacuum-time", "--vacuum-files", "--rotate", "--flush", "--sync",
      "--relinquish-var", "--smart-relinquish-var", "--setup-keys", "--update-catalog", "--cursor-file"
    ]
  },
  docker: { subcommands: ["ps", "images", "logs", "inspect", "version", "info", "top", "port", "stats"] },
  podman: { subcommands: ["ps", "images", "logs", "inspect", "version", "info", "top", "port", "stats"] }
}

/** Where an allow-listed command may live when named by path. */
const SYSTEM_DIRS = ["/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/", "/usr/local/bin/"]

const WORD_CHAR = /[A-Za-z0-9_./:=,+@%^~-]/
const ALLOWED_REDIRECTS = new Set([">/dev/null", "1>/dev/null", "2>/dev/null", "2>&1"])

interface Word {
  readonly text: string
  /** The word as written (quotes kept), for redirections. */
  readonly raw: string
}

/** Split `command` into simple commands of words, or say why it cannot be read. */
export const splitCommand = (command: string): { readonly commands: ReadonlyArray<ReadonlyArray<Word>> } | { readonly refused: string } => {
  const commands: Array<Array<Word>> = []
  let words: Array<Word> = []
  let text = ""
  let raw = ""
  let inWord = false
  const endWord = () => {
    if (inWord) words.push({ text, raw })
    text = ""
    raw = ""
    inWord = false
  }
  const endCommand = (op: string): string | undefined => {
    endWord()
    if (words.length === 0) return `nothing before "${op}"`
    commands.push(words)
    words = []
    return undefined
  }
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!
    if (c === " " || c === "\t") {
      endWord()
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1)
      if (end < 0) return { refused: "an unterminated quote" }
      text += command.slice(i + 1, end)
      raw += command.slice(i, end + 1)
      inWord = true
      i = end
    } else if (c === "\"") {
      let end = i + 1
      while (end < command.length && command[end] !== "\"") {
        if ("$`\\!".includes(command[end]!)) return { refused: `${JSON.stringify(command[end])} inside double quotes` }
        end++
      }
      if (end >= command.length) return { refused: "an unterminated quote" }
      text += command.slice(i + 1, end)
      raw += command.slice(i, end + 1)
      inWord = true
      i = end
    } else if (c === "|" || c === ";" || (c === "&" && command[i + 1] === "&")) {
      const op = c === ";" ? ";" : command[i + 1] === c ? c + c : c
      if (op.length === 2) i++
      const why = endCommand(op)
      if (why !== undefined) return { refused: why }
    } else if (c === ">" || c === "<" || c === "&") {
      // Only a whole word that is one of the harmless redirections.
      let end = i
      while (end < command.length && command[end] !== " " && command[end] !== "\t") end++
      const candidate = raw + command.slice(i, end)
      if (!ALLOWED_REDIRECTS.has(candidate)) {
        return { refused: c === "&" ? "\"&\" (background or redirection)" : `the redirection ${JSON.stringify(candidate)}` }
      }
      text = ""
      raw = ""
      inWord = false
      i = end - 1
    } else if (WORD_CHAR.test(c)) {
      text += c
      raw += c
      inWord = true
    } else {
      return { refused: `${JSON.stringify(c)} outside quotes` }
    }
  }
  endWord()
  if (words.length > 0) commands.push(words)
  else if (commands.length > 0) return { refused: "a command list ending in an operator" }
  return { commands }
}

/** Why `words` (one simple command) is not read-only, or undefined when it is. */
const checkSimple = (words: ReadonlyArray<Word>): string | undefined => {
  const first = words[0]!.text
  if (first.includes("=")) return `a variable assignment (${JSON.stringify(first)})`
  const dir = SYSTEM_DIRS.find((d) => first.startsWith(d))
  const name = dir === undefined ? first : first.slice(dir.length)
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || !Object.hasOwn(readOnlyCommands, name)) {
    return `${JSON.stringify(first)} is not on the read-only list`
  }
  const spec = readOnlyCommands[name]!
  const operands: Array<string> = []
  let optionsEnded = false
  for (const { text: w } of words.slice(1)) {
    if (spec.forbidWords?.includes(w)) return `${name} ${w}`
    if (optionsEnded || !w.startsWith("-") || w === "-") {
      operands.push(w)
    } else if (w === "--") {
      optionsEnded = true
    } else if (w.startsWith("--")) {
      const option = w.split("=")[0]!
      // GNU getopt takes any unambiguous prefix: refuse every prefix of a refused option.
      const hit = spec.forbidLong?.find((f) => option.length >= 3 && f.startsWith(option))
      if (hit !== undefined) return `${name} ${hit}`
    } else {
      const letter = [...w.slice(1)].find((l) => spec.forbidShort?.includes(l))
      if (letter !== undefined) return `${name} -${letter}`
    }
  }
  if (spec.subcommands !== undefined && (operands[0] === undefined || !spec.subcommands.includes(operands[0]))) {
    return `${name} ${operands[0] ?? "without a subcommand"} (read-only: ${spec.subcommands.join(", ")})`
  }
  if (spec.maxOperands !== undefined && operands.length > spec.maxOperands) {
    return `${name} with ${operands.length} operands (at most ${spec.maxOperands})`
  }
  const bad = spec.operand === undefined ? undefined : operands.find((o) => !spec.operand!.test(o))
  if (bad !== undefined) return `${name} ${JSON.stringify(bad)}`
  return undefined
}

/** Why `command` is not read-only by the list above, or undefined when it is. */
export const readOnlyViolation = (command: string): string | undefined => {
  const split = splitCommand(command)
  if ("refused" in split) return split.refused
  if (split.commands.length === 0) return "an empty command"
  for (const words of split.commands) {
    const why = checkSimple(words)
    if (why !== undefined) return why
  }
  return undefined
}
