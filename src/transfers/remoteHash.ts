/**
 * The host's side of transfer verification: shell commands that compute sha256 with the
 * host's own tools, and the parsing of what they print.
 *
 * @since 0.2.0
 */
import { shellQuote } from "../ssh/shell.js"

/**
 * One file's sha256, read on stdin (a name with a newline or backslash would be escaped in
 * the output, one starting with "-" read as an option). OpenSSL first: it uses the CPU's
 * SHA instructions where coreutils' sha256sum does not (≈ 3× faster on a large file).
 */
export const oneFileCommand = (file: string): string => {
  const q = shellQuote(file)
  return `openssl dgst -sha256 -r < ${q} 2>/dev/null || sha256sum < ${q} 2>/dev/null || shasum -a 256 < ${q}`
}

/** The sha256 of stdin, hex first (OpenSSL first, as above). No single quote in it: it goes inside `sh -c '…'`. */
export const hashStdin =
  "if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; " +
  "elif command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi"

/** The hex digest at the start of `oneFileCommand`'s output, or undefined. */
export const parseOne = (output: string): string | undefined => /^([0-9a-f]{64})\b/.exec(output.trim())?.[1]

/**
 * Many files' sha256 in one command, run in `dir`: the paths come NUL-separated on stdin
 * (as `./rel`, so none reads as an option) and go to one hasher through `xargs -0`.
 */
export const manyFilesCommand = (dir: string): string =>
  `cd -- ${shellQuote(dir)} && if command -v openssl >/dev/null 2>&1; then xargs -0 openssl dgst -sha256 -r; ` +
  `elif command -v sha256sum >/dev/null 2>&1; then xargs -0 sha256sum --; else xargs -0 shasum -a 256 --; fi`

/**
 * The most an honest hasher prints for `rels`: a digest, a separator, "./" and the name (at
 * most twice as long escaped) per line, and room for a warning or two.
 */
export const manyFilesMaxOutput = (rels: ReadonlyArray<string>): number =>
  rels.reduce((n, rel) => n + 2 * Buffer.byteLength(rel) + 80, 64 * 1024)

/** The stdin of `manyFilesCommand` for these "/"-separated relative paths. */
export const manyFilesInput = (rels: ReadonlyArray<string>): string => rels.map((r) => `./${r}\0`).join("")

const unescape = (name: string) => name.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c === "r" ? "\r" : c)

/**
 * The digests `manyFilesCommand` printed, by relative path: `hex *./rel` (OpenSSL -r) or
 * `hex  ./rel` (sha256sum, shasum), a line starting with "\" holding an escaped name
 * (coreutils). Only unambiguous answers are kept: a path not found (a name with a raw
 * newline that OpenSSL did not escape, an unreadable file) or found twice is left out, and
 * the caller hashes it alone with `oneFileCommand`.
 */
export const parseMany = (output: string, rels: ReadonlyArray<string>): Map<string, string> => {
  const wanted = new Set(rels)
  const seen = new Map<string, string | null>()
  for (const line of output.split("\n")) {
    const m = /^(\\?)([0-9a-f]{64}) [ *]\.\/([^]*)$/.exec(line)
    if (m === null) continue
    const rel = m[1] === "\\" ? unescape(m[3]!) : m[3]!
    if (!wanted.has(rel)) continue
    seen.set(rel, seen.has(rel) ? null : m[2]!)
  }
  const out = new Map<string, string>()
  for (const [rel, hex] of seen) if (hex !== null) out.set(rel, hex)
  return out
}

/**
 * What already exists in the directories a tree upload writes to, run in the tree's root
 * with the directories ("./rel") NUL-separated on stdin: `<type> ./rel/name\0` per entry
 * (GNU find's `%y`). Exit 3 when find has no -printf (the caller then asks per file).
 */
export const existingCommand = (root: string): string =>
  `cd -- ${shellQuote(root)} 2>/dev/null || exit 0; find . -maxdepth 0 -printf '' >/dev/null 2>&1 || exit 3; ` +
  `xargs -0 sh -c 'find "$@" -mindepth 1 -maxdepth 1 -printf "%y %p\\0" 2>/dev/null' sh; exit 0`

/** `existingCommand`'s output: type letter by relative path (entries that do not parse are left out). */
export const parseExisting = (output: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const record of output.split("\0")) {
    const m = /^([a-zA-Z]) \.\/([^]*)$/.exec(record)
    if (m !== null) out.set(m[2]!, m[1]!)
  }
  return out
}
