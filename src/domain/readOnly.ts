/**
 * `read_only = true`: a command runs only if every word of it is understood. The line is
 * parsed as bash (src/domain/bashParser.ts); then it must be simple commands joined by
 * `;`, newlines, `&&`, `||` or `|`, each one a command of the closed list
 * (src/domain/readOnlyCommands.ts) given only options that list names for it, with their
 * arguments, and operands it allows. Anything else is refused, named: another command, an
 * unknown option, a word in a subcommand's place that is not a read-only subcommand, and
 * every construct we cannot prove inert (command, arithmetic and process substitution,
 * `$'…'`, unquoted or operator-bearing expansions, brace expansion, here-documents and
 * here-strings, redirections other than to `/dev/null` and between stdout and stderr,
 * assignments, subshells, groups, functions, loops, `[[ … ]]`, `(( … ))`, `&`, comments).
 *
 * Words: unquoted letters, digits and `_ . / : = , + @ % ~ -`, `\`-escaped printable
 * characters, `'…'`, and `"…"` holding text and plain `$NAME` / `${NAME}` reads. An
 * expansion or an unquoted glob (`*`, `?`, `[…]`) is taken only in an operand (never the
 * command, an option, an option's argument or a subcommand) that starts with a written
 * character other than `-` or comes after `--`, so that it cannot turn into an option,
 * and never where the operands are counted or checked (`uniq IN OUT`, `date +FORMAT`).
 *
 * A seat belt, not a sandbox: it cannot see what a command does on the host (a `PATH`
 * entry, a shell function or an alias named `ls`, a wrapper script, a repository's git
 * configuration), nor stop reading secrets.
 *
 * @since 0.2.0
 */
import { type BashParser, firstError, type SyntaxNode } from "./bashParser.js"
import { commandParts, describeNode, hiddenSubstitution, isRefused, tooLong, type WordValue, wordValue } from "./commandLine.js"
import { type CommandSpec, readOnlyCommands } from "./readOnlyCommands.js"

export { readOnlyCommands }

/** Where a listed command may live when named by path. */
const SYSTEM_DIRS = ["/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/", "/usr/local/bin/"]

/** Redirections that write nothing and read nothing: fd, operator and target, without spaces. */
const ALLOWED_REDIRECTS = new Set([
  ">/dev/null", "1>/dev/null", "2>/dev/null", "&>/dev/null", ">>/dev/null", "1>>/dev/null", "2>>/dev/null", "&>>/dev/null",
  "2>&1", ">&2", "1>&2", "</dev/null", "0</dev/null"
])

const quote = (s: string, max = 60) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s)

/** Only blanks (and newlines between statements) between the parts of `node`. */
const gaps = (node: SyntaxNode, source: string): string | undefined => {
  let end = node.startIndex
  const check = (from: number, to: number) => {
    const between = source.slice(from, to)
    return /^[ \t\n]*$/.test(between) ? undefined : `${quote(between)} (not understood)`
  }
  for (const child of node.children) {
    const why = check(end, child.startIndex)
    if (why !== undefined) return why
    end = child.endIndex
  }
  return check(end, node.endIndex)
}

const redirect = (node: SyntaxNode): string | undefined => {
  if (node.type !== "file_redirect") return describeNode(node)
  const destinations = node.children.filter((c) => c.type === "word" || c.type === "number")
  const written = node.children.map((c) => c.text).join("")
  return destinations.length === 1 && node.children.every((c) => !c.isNamed || ["file_descriptor", "word", "number"].includes(c.type)) &&
      ALLOWED_REDIRECTS.has(written)
    ? undefined
    : `the redirection ${quote(node.text)} (only to /dev/null, 2>&1 and >&2)`
}

interface Arg {
  readonly v: WordValue
  readonly text: string
}

/** The spec that knows `key` among `specs` (the command's, then its subcommand's). */
const lookup = <K>(specs: ReadonlyArray<CommandSpec>, pick: (s: CommandSpec) => K | undefined): [CommandSpec, K] | undefined => {
  for (let i = specs.length - 1; i >= 0; i--) {
    const k = pick(specs[i]!)
    if (k !== undefined) return [specs[i]!, k]
  }
  return undefined
}

/**
 * One option word (`value`, with `next` the word after it): how many following words it
 * takes as its argument (0 or 1), or why it is refused.
 */
const option = (label: string, specs: ReadonlyArray<CommandSpec>, value: string, next: Arg | undefined): number | string => {
  const argument = (spec: CommandSpec, name: string, arg: string): string | undefined => {
    const pattern = spec.args?.[name]
    return pattern === undefined || pattern.test(arg) ? undefined : `${label}: ${name} ${quote(arg)}`
  }
  const fromNext = (spec: CommandSpec, name: string): number | string => {
    if (next === undefined) return `${label}: ${name} without its argument`
    if (!next.v.sure) return `${label}: the argument of ${name} must be written out, not ${quote(next.text)}`
    return argument(spec, name, next.v.value) ?? 1
  }
  const ifMatches = (spec: CommandSpec, name: string): number => {
    const pattern = spec.nextIfMatches?.[name]
    return pattern !== undefined && next !== undefined && next.v.sure && pattern.test(next.v.value) ? 1 : 0
  }
  if (value.startsWith("--")) {
    const eq = value.indexOf("=")
    const name = eq < 0 ? value : value.slice(0, eq)
    const found = lookup(specs, (s) => s.options.long.get(name))
    if (found === undefined) return `${label}: unknown option ${name}`
    const [spec, kind] = found
    if (kind === "none") return eq < 0 ? 0 : `${label}: ${name} takes no argument`
    if (eq >= 0) return argument(spec, name, value.slice(eq + 1)) ?? 0
    return kind === "required" ? fromNext(spec, name) : ifMatches(spec, name)
  }
  const letters = value.slice(1)
  for (let j = 0; j < letters.length; j++) {
    const name = `-${letters[j]!}`
    const found = lookup(specs, (s) => s.options.short.get(letters[j]!))
    if (found === undefined) return `${label}: unknown option ${name}`
    const [spec, kind] = found
    if (kind === "none") continue
    const rest = letters.slice(j + 1)
    if (rest !== "") return argument(spec, name, rest) ?? 0
    return kind === "required" ? fromNext(spec, name) : ifMatches(spec, name)
  }
  return 0
}

/** Why the arguments `args` of `name` are not understood, or undefined. */
const checkArgs = (name: string, spec: CommandSpec, args: ReadonlyArray<Arg>): string | undefined => {
  if (spec.custom !== undefined) {
    const unsure = args.find((a) => !a.v.sure)
    if (unsure !== undefined) return `${name}: ${quote(unsure.text)} (every word of ${name} must be written out: no expansion or glob)`
    return spec.custom(args.map((a) => a.v.value))
  }
  let label = name
  let current = spec
  let specs: ReadonlyArray<CommandSpec> = [spec]
  let subcommand = false
  let endOfOptions = false
  const operands: Array<Arg> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const value = a.v.value
    if (!endOfOptions && a.v.sure && value === "--") {
      endOfOptions = true
      continue
    }
    if (!endOfOptions && !a.v.literalStart) {
      return `${label}: ${quote(a.text)} could turn into an option (start it with a written character, or put it after --)`
    }
    if (!endOfOptions && value.startsWith("-") && value !== "-") {
      if (!a.v.sure) return `${label}: an option with an expansion or a glob, ${quote(a.text)}`
      const taken = option(label, specs, value, args[i + 1])
      if (typeof taken === "string") return taken
      i += taken
      continue
    }
    if (current.subcommands !== undefined && !subcommand) {
      if (!a.v.sure) return `${label}: the subcommand must be written out, not ${quote(a.text)}`
      const next = Object.hasOwn(current.subcommands, value) ? current.subcommands[value] : undefined
      if (next === undefined) {
        return `${label} ${value} is not read-only (read-only: ${Object.keys(current.subcommands).join(", ")})`
      }
      label = `${label} ${value}`
      specs = current.ownOptionsAfterSubcommand === true ? [...specs, next] : [next]
      current = next
      subcommand = true
      continue
    }
    if (current.optionsBeforeOperands === true) endOfOptions = true
    operands.push(a)
  }
  if (current.subcommands !== undefined && !subcommand && current.subcommandOptional !== true) {
    return `${label} without a subcommand (read-only: ${Object.keys(current.subcommands).join(", ")})`
  }
  if (current.maxOperands !== undefined || current.operand !== undefined) {
    const unsure = operands.find((o) => !o.v.sure)
    if (unsure !== undefined) return `${label}: ${quote(unsure.text)} (its operands must be written out: no expansion or glob)`
  }
  if (current.maxOperands !== undefined && operands.length > current.maxOperands) {
    return `${label} with ${operands.length} operands (at most ${current.maxOperands})`
  }
  const bad = current.operand === undefined ? undefined : operands.find((o) => !current.operand!.test(o.v.value))
  return bad === undefined ? undefined : `${label}: the operand ${quote(bad.v.value)}`
}

const simpleCommand = (node: SyntaxNode, source: string): string | undefined => {
  const gap = gaps(node, source)
  if (gap !== undefined) return gap
  const { words, others } = commandParts(node)
  for (const other of others) {
    if (other.type === "variable_assignment") return `a variable assignment ${quote(other.text)} before the command`
    const why = other.type === "file_redirect" ? redirect(other) : describeNode(other)
    if (why !== undefined) return why
  }
  const values: Array<Arg> = []
  for (const w of words) {
    const v = wordValue(w)
    if (isRefused(v)) return v.refused
    values.push({ v, text: w.text })
  }
  const first = values[0]
  if (first === undefined) return `${quote(node.text)} (no command)`
  if (!first.v.sure) return `the command ${quote(first.text)} must be written out`
  const dir = SYSTEM_DIRS.find((d) => first.v.value.startsWith(d))
  const name = dir === undefined ? first.v.value : first.v.value.slice(dir.length)
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || !Object.hasOwn(readOnlyCommands, name)) {
    return `${quote(first.v.value)} is not on the read-only list`
  }
  return checkArgs(name, readOnlyCommands[name]!, values.slice(1))
}

const JOINERS: Readonly<Record<string, ReadonlySet<string>>> = {
  program: new Set([";", "\n"]),
  list: new Set(["&&", "||"]),
  pipeline: new Set(["|"])
}

const statement = (node: SyntaxNode, source: string): string | undefined => {
  switch (node.type) {
    case "command":
      return simpleCommand(node, source)
    case "redirected_statement": {
      const body = node.childForFieldName("body")
      if (body === null || body.type !== "command") return describeNode(body ?? node)
      for (const child of node.children) {
        if (child.equals(body)) continue
        const why = redirect(child)
        if (why !== undefined) return why
      }
      return gaps(node, source) ?? simpleCommand(body, source)
    }
    case "program":
    case "list":
    case "pipeline": {
      const gap = gaps(node, source)
      if (gap !== undefined) return gap
      for (const child of node.children) {
        if (!child.isNamed) {
          if (JOINERS[node.type]!.has(child.type)) continue
          return child.type === "&" ? "\"&\" (a background job)" : describeNode(child)
        }
        const why = statement(child, source)
        if (why !== undefined) return why
      }
      return undefined
    }
    default:
      return describeNode(node)
  }
}

/** Why `command` is not read-only, naming what was not understood; undefined when it is. */
export const readOnlyViolation = (parser: BashParser, command: string): string | undefined => {
  if (command.trim() === "") return "an empty command"
  const long = tooLong(command)
  if (long !== undefined) return long
  const control = /[\x00-\x08\x0b-\x1f\x7f]/.exec(command)
  if (control !== null) return `the control character ${JSON.stringify(control[0])}`
  if (/\\\n/.test(command)) return "a line continuation (\\ at the end of a line)"
  return parser.parse(command, (root) => {
    const error = firstError(root)
    if (error !== undefined) {
      return `bash cannot parse it near ${quote(command.slice(error.startIndex, Math.max(error.endIndex, error.startIndex + 20)))}`
    }
    if (root.namedChildCount === 0) return "an empty command"
    return statement(root, command) ?? hiddenSubstitution(command, root)
  })
}
