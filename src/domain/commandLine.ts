/**
 * A command line as the policy sees it, from a bash parse (src/domain/bashParser.ts):
 * the words of a command after quote removal (`wordValue`), and every command the line
 * runs (`parseLine`): the simple commands after `;`, `&&`, `||`, `|`, `&` and newlines,
 * those inside `$(…)`, backquotes, `<(…)`, subshells, groups, loops, conditionals and
 * function bodies, and the other statements that evaluate code (assignments, `declare`,
 * `unset`, `[[ … ]]`, `(( … ))`, C-style `for`, a redirection on a compound command).
 *
 * @since 0.3.0
 */
import { type BashParser, firstError, type SyntaxNode } from "./bashParser.js"

/** A word as the program will receive it, when we can tell. */
export interface WordValue {
  /** After quote removal; variable expansions and glob characters kept as written. */
  readonly value: string
  /** No expansion and no glob: `value` is exactly the argument. */
  readonly sure: boolean
  /** Holds an unquoted `*`, `?` or `[`: may become any number of words. */
  readonly glob: boolean
  /** Whether the first character is written out (not from an expansion or a glob). */
  readonly literalStart: boolean
}

export type WordResult = WordValue | { readonly refused: string }

export const isRefused = (w: WordResult): w is { readonly refused: string } => "refused" in w

/** Unquoted characters that are themselves in every POSIX shell, bash and zsh. */
const LITERAL = /^[A-Za-z0-9_./:=,+@%~-]$/
const GLOB = /^[*?[\]]$/
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

const quote = (s: string, max = 60) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s)

/** What a construct is, for messages. */
export const describeNode = (node: SyntaxNode): string => {
  const text = quote(node.text)
  switch (node.type) {
    case "command_substitution":
      return `a command substitution ${text}`
    case "process_substitution":
      return `a process substitution ${text}`
    case "arithmetic_expansion":
      return `an arithmetic expansion ${text}`
    case "ansi_c_string":
      return `$'…' quoting ${text}`
    case "translated_string":
      return `$"…" quoting ${text}`
    case "brace_expression":
      return `a brace expansion ${text}`
    case "simple_expansion":
    case "expansion":
      return `an expansion ${text}`
    case "heredoc_redirect":
      return `a here-document ${text}`
    case "herestring_redirect":
      return `a here-string ${text}`
    case "subshell":
      return `a subshell ${text}`
    case "compound_statement":
      return node.child(0)?.type === "((" ? `an arithmetic command ${text}` : `a { … } group ${text}`
    case "variable_assignment":
    case "variable_assignments":
      return `a variable assignment ${text}`
    case "declaration_command":
    case "unset_command":
      return `${quote(node.child(0)?.text ?? node.type)} (it evaluates its arguments)`
    case "test_command":
      return `${node.child(0)?.type === "[" ? "[ … ]" : "[[ … ]]"} ${text} (it evaluates its operands)`
    case "negated_command":
      return `"!" ${text}`
    case "function_definition":
      return `a function definition ${text}`
    case "comment":
      return `a comment ${text} (not a comment in every shell)`
    case "if_statement":
    case "while_statement":
    case "for_statement":
    case "c_style_for_statement":
    case "case_statement":
      return `${quote(node.child(0)?.text ?? node.type)} ${text}`
    default:
      return node.isNamed ? `${text} (${node.type.replace(/_/g, " ")})` : `${quote(node.type)}`
  }
}

/** An expansion we can name: `$NAME` or `${NAME}`, nothing more. */
const plainVariable = (node: SyntaxNode): boolean => {
  const kids = node.children.map((c) => c.type)
  const name = node.children.find((c) => c.type === "variable_name")
  if (name === undefined || !NAME.test(name.text)) return false
  return node.type === "simple_expansion"
    ? kids.length === 2 && kids[0] === "$"
    : kids.length === 3 && kids[0] === "${" && kids[2] === "}"
}

/** An unquoted word written with literal characters, `\`-escapes and glob characters. */
const unquoted = (text: string): WordResult => {
  let value = ""
  let glob = false
  let literalStart = true
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\") {
      const next = text[i + 1]
      if (next === undefined || next < " " || next > "~") return { refused: `a backslash before ${quote(next ?? "the end")}` }
      value += next
      i++
    } else if (LITERAL.test(c)) {
      value += c
    } else if (GLOB.test(c)) {
      if (value === "") literalStart = false
      value += c
      glob = true
    } else {
      return { refused: `${quote(c)} outside quotes` }
    }
  }
  return { value, sure: !glob, glob, literalStart }
}

const dq = (node: SyntaxNode): WordResult => {
  const kids = node.children
  if (kids.length < 2 || kids[0]!.type !== "\"" || kids[kids.length - 1]!.type !== "\"") return { refused: describeNode(node) }
  let value = ""
  let sure = true
  let literalStart = true
  let end = node.startIndex
  for (const part of kids) {
    if (part.startIndex !== end) return { refused: `${quote(node.text)} (a string the parser split)` }
    end = part.endIndex
  }
  if (end !== node.endIndex) return { refused: `${quote(node.text)} (a string the parser split)` }
  for (const part of kids.slice(1, -1)) {
    if (part.type === "string_content") {
      const bad = /[\\`$!]/.exec(part.text)
      if (bad !== null) return { refused: `${quote(bad[0])} inside double quotes` }
      value += part.text
    } else if ((part.type === "simple_expansion" || part.type === "expansion") && plainVariable(part)) {
      if (value === "") literalStart = false
      value += part.text
      sure = false
    } else {
      return { refused: describeNode(part) }
    }
  }
  return { value, sure, glob: false, literalStart }
}

/**
 * The value of a word (a command's name or argument): literal text, `'…'`, `"…"` holding
 * text and plain `$NAME` / `${NAME}` reads, and concatenations of those. Anything else
 * (command, arithmetic and process substitution, `$'…'`, unquoted expansions, parameter
 * operators, brace expansion) is refused, named.
 */
export const wordValue = (node: SyntaxNode): WordResult => {
  switch (node.type) {
    case "word":
    case "number":
      return unquoted(node.text)
    case "raw_string": {
      const t = node.text
      return t.length >= 2 && t.startsWith("'") && t.endsWith("'") && node.childCount === 0
        ? { value: t.slice(1, -1), sure: true, glob: false, literalStart: true }
        : { refused: describeNode(node) }
    }
    case "string":
      return dq(node)
    case "concatenation": {
      let value = ""
      let sure = true
      let glob = false
      let literalStart = true
      let end = node.startIndex
      for (const part of node.children) {
        if (part.startIndex !== end) return { refused: `${quote(node.text)} (a word tree-sitter split)` }
        end = part.endIndex
        const v = wordValue(part)
        if (isRefused(v)) return v
        if (value === "" && !v.literalStart) literalStart = false
        value += v.value
        sure &&= v.sure
        glob ||= v.glob
      }
      return end === node.endIndex ? { value, sure, glob, literalStart } : { refused: `${quote(node.text)} (a word tree-sitter split)` }
    }
    case "simple_expansion":
    case "expansion":
      return { refused: `an unquoted expansion ${quote(node.text)} (put it in double quotes)` }
    default:
      return { refused: describeNode(node) }
  }
}

/** One command the line runs: its text as written, and its words after quote removal. */
export interface CommandUnit {
  /** As written, with its redirections. */
  readonly text: string
  /** The words after quote removal, joined by single spaces (words we cannot read as written). */
  readonly normalized: string
}

export interface ParsedLine {
  readonly units: ReadonlyArray<CommandUnit>
  /** Why bash would not run the line as parsed: where the parse failed, a line continuation. */
  readonly unparsed: string | undefined
  /** The first comment (`#…`): a comment only where the shell says so (zsh's interactive_comments). */
  readonly comment: string | undefined
  /**
   * The first `$(`, `<(`, `>(` or backquote outside single quotes that does not open a
   * substitution of the tree (tree-sitter reads backquotes inside `${x:-…}`, here-documents
   * and nested backquotes as text, where bash runs them): its commands are not among `units`.
   */
  readonly hidden: string | undefined
}

/** Where the parse found substitutions, and the single-quoted text in which none can be. */
const substitutions = (root: SyntaxNode) => {
  const opens = new Set<number>()
  const literal: Array<readonly [number, number]> = []
  const visit = (node: SyntaxNode) => {
    if (node.type === "command_substitution" || node.type === "process_substitution" || node.type === "arithmetic_expansion") {
      opens.add(node.startIndex)
      if (node.text.startsWith("`")) opens.add(node.endIndex - 1)
    } else if (node.type === "raw_string") {
      literal.push([node.startIndex, node.endIndex])
      return
    }
    for (const child of node.children) visit(child)
  }
  visit(root)
  return { opens, literal }
}

export const hiddenSubstitution = (text: string, root: SyntaxNode): string | undefined => {
  const { opens, literal } = substitutions(root)
  let next = 0
  for (let i = 0; i < text.length; i++) {
    while (next < literal.length && literal[next]![1] <= i) next++
    if (next < literal.length && literal[next]![0] <= i) {
      i = literal[next]![1] - 1
      continue
    }
    const c = text[i]!
    if ((c === "`" || ("$<>".includes(c) && text[i + 1] === "(")) && !opens.has(i)) {
      return `${quote(text.slice(i, i + 24))} (a substitution the parser read as text)`
    }
  }
  return undefined
}

/** Statements that evaluate code without being simple commands: each one is a unit. */
const EVALUATING = new Set([
  "variable_assignment",
  "variable_assignments",
  "declaration_command",
  "unset_command",
  "test_command",
  "c_style_for_statement"
])

/** A `command` node's parts: its words (name, then arguments) and everything else, in order. */
export const commandParts = (node: SyntaxNode): { readonly words: Array<SyntaxNode>; readonly others: Array<SyntaxNode> } => {
  const words: Array<SyntaxNode> = []
  const others: Array<SyntaxNode> = []
  // A cursor: asking a node for its i-th child or that child's field walks its children from the first.
  const cursor = node.walk()
  try {
    for (let more = cursor.gotoFirstChild(); more; more = cursor.gotoNextSibling()) {
      const child = cursor.currentNode
      if (child.type === "command_name" && child.childCount === 1) words.push(child.firstChild!)
      else if (cursor.currentFieldName === "argument") words.push(child)
      else others.push(child)
    }
  } finally {
    cursor.delete()
  }
  return { words, others }
}

const unitOf = (text: string, words: ReadonlyArray<SyntaxNode>): CommandUnit => ({
  text,
  normalized: words.map((w) => {
    const v = wordValue(w)
    return isRefused(v) ? w.text : v.value
  }).join(" ")
})

const collect = (node: SyntaxNode, parent: SyntaxNode | undefined, units: Array<CommandUnit>, comments: Array<string>): void => {
  if (node.type === "command") {
    const withRedirects = parent?.type === "redirected_statement" && parent.childForFieldName("body")?.equals(node) === true
    units.push(unitOf(withRedirects ? parent!.text : node.text, commandParts(node).words))
  } else if (node.type === "redirected_statement" && node.childForFieldName("body")?.type !== "command") {
    units.push({ text: node.text, normalized: node.text })
  } else if (
    (EVALUATING.has(node.type) && parent?.type !== "command" && parent?.type !== "declaration_command" &&
      parent?.type !== "variable_assignments" && parent?.type !== "c_style_for_statement") ||
    (node.type === "compound_statement" && node.child(0)?.type === "((")
  ) {
    units.push({ text: node.text, normalized: node.text })
  } else if (node.type === "comment") {
    comments.push(node.text)
  }
  for (const child of node.children) collect(child, node, units, comments)
}

/**
 * The longest line the policy parses, in characters: a parse tree and its walk take memory
 * and time in proportion to the line (a 1 MB line of commands takes seconds and hundreds of
 * MB), and the WebAssembly memory a parse grows is never given back.
 */
export const MAX_PARSED_LINE = 16 * 1024

export const tooLong = (text: string): string | undefined =>
  text.length > MAX_PARSED_LINE
    ? `a line of ${text.length} characters (the policy reads lines of up to ${MAX_PARSED_LINE})`
    : undefined

/** Every command `text` runs, as bash parses it; a line over `MAX_PARSED_LINE` is not parsed. */
export const parseLine = (parser: BashParser, text: string): ParsedLine => {
  const long = tooLong(text)
  if (long !== undefined) return { units: [], unparsed: long, comment: undefined, hidden: undefined }
  return parser.parse(text, (root) => {
    const units: Array<CommandUnit> = []
    const comments: Array<string> = []
    collect(root, undefined, units, comments)
    const error = firstError(root)
    const unparsed = /\\\r?\n/.test(text)
      ? "a line continuation (\\ at the end of a line)"
      : error === undefined
      ? undefined
      : `bash cannot parse it near ${quote(text.slice(error.startIndex, Math.max(error.endIndex, error.startIndex + 20)))}`
    return { units, unparsed, comment: comments[0], hidden: hiddenSubstitution(text, root) }
  })
}
