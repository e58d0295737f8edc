/**
 * The bash parser the policy reads commands with: tree-sitter-bash (the grammar the
 * tree-sitter project maintains) run by web-tree-sitter (WebAssembly, no native build).
 * Loaded once per process, asynchronously (the `Policy` layer does it when a policy is
 * configured); parsing is synchronous after that, about 0.1 ms for a one-line command.
 *
 * tree-sitter recovers from errors instead of failing: a tree with an ERROR or MISSING
 * node is a command bash would not run as we read it, and callers treat it so. Its
 * grammar is not bash itself, so callers accept only what they can check on the text
 * too (src/domain/readOnly.ts checks every character of every word it accepts).
 *
 * The grammar's .wasm file sits next to this module in dist/ (the build copies it there
 * from the tree-sitter-bash package); running from source, it is read from the package.
 *
 * @since 0.3.0
 */
import * as fs from "node:fs/promises"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { Language, type Node, Parser } from "web-tree-sitter"

export type SyntaxNode = Node

export interface BashParser {
  /** Parse `text` and hand the root of its tree to `use`; the tree is freed afterwards. */
  readonly parse: <A>(text: string, use: (root: SyntaxNode) => A) => A
}

const GRAMMAR = "tree-sitter-bash.wasm"

const readGrammar = async (): Promise<Uint8Array> => {
  try {
    return await fs.readFile(fileURLToPath(new URL(`./${GRAMMAR}`, import.meta.url)))
  } catch {
    return await fs.readFile(createRequire(import.meta.url).resolve(`tree-sitter-bash/${GRAMMAR}`))
  }
}

let loading: Promise<BashParser> | undefined

/** The parser, loaded on first use (once per process). */
export const loadBashParser = (): Promise<BashParser> => {
  loading ??= (async () => {
    await Parser.init()
    const language = await Language.load(await readGrammar())
    const parser = new Parser()
    parser.setLanguage(language)
    return {
      parse: (text, use) => {
        const tree = parser.parse(text)
        if (tree === null) throw new Error("tree-sitter-bash gave no tree")
        try {
          return use(tree.rootNode)
        } finally {
          tree.delete()
        }
      }
    }
  })()
  loading.catch(() => {
    loading = undefined
  })
  return loading
}

/** The first node of the tree bash would not run as parsed (ERROR or MISSING), if any. */
export const firstError = (node: SyntaxNode): SyntaxNode | undefined => {
  if (node.isError || node.isMissing) return node
  if (!node.hasError) return undefined
  for (const child of node.children) {
    const found = firstError(child)
    if (found !== undefined) return found
  }
  return node
}
