/**
 * Paths inside a transferred directory tree, checked so that nothing a host lists can
 * name a file outside the directory a transfer is about (docs/SECURITY.md, "A hostile host").
 *
 * @since 0.1.0
 */
import * as path from "node:path"

export interface TreeEntry {
  /** "/"-separated, relative to the tree's root. */
  readonly rel: string
  readonly size: number
}

/**
 * Why `rel` cannot be a path inside a tree, or undefined when it can: it must be relative,
 * non-empty, without NUL, and every "/"-separated component a plain name (not "", "." or "..").
 */
export const unsafeRelative = (rel: string): string | undefined => {
  if (rel === "") return "an empty path"
  if (rel.includes("\0")) return "a NUL byte"
  if (rel.startsWith("/")) return "an absolute path"
  // On Windows a backslash separates and ":" names a drive or stream; on POSIX both are plain characters.
  if (process.platform === "win32" && /[\\:]/.test(rel)) return "a backslash or colon (not allowed in local names here)"
  for (const part of rel.split("/")) {
    if (part === "..") return "a \"..\" component"
    if (part === "" || part === ".") return "an empty or \".\" component"
  }
  return undefined
}

/** The remote command listing a tree's regular files: `<size> <path>\0` per file, NUL-terminated. */
export const listingCommand = "find . -type f -printf '%s %P\\0'"

/**
 * Parse the output of `listingCommand`. A malformed record or an unsafe path means the host
 * is not the honest `find` we asked for: the whole listing is refused (the reason is returned).
 */
export const parseListing = (output: string): ReadonlyArray<TreeEntry> | string => {
  if (output === "") return []
  if (!output.endsWith("\0")) return "the listing does not end with a NUL byte"
  const entries: Array<TreeEntry> = []
  for (const record of output.slice(0, -1).split("\0")) {
    const m = /^(\d{1,16}) ([^]*)$/.exec(record)
    if (m === null) return `malformed listing record ${JSON.stringify(record.slice(0, 200))}`
    const why = unsafeRelative(m[2]!)
    if (why !== undefined) return `the host listed ${JSON.stringify(m[2]!.slice(0, 200))}, ${why}`
    entries.push({ rel: m[2]!, size: Number(m[1]) })
  }
  return entries
}

/** Whether `p` is `root` or below it (both absolute and already resolved). */
export const isInside = (root: string, p: string): boolean => {
  const rel = path.relative(root, p)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}
