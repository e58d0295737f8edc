/**
 * OpenSSH known_hosts, the pure part: parse lines, match host patterns (plain,
 * `[host]:port`, wildcards, negation, hashed `|1|salt|hash`), compare keys, and
 * format a line to append.
 *
 * @since 0.1.0
 */
import { createHash, createHmac } from "node:crypto"

/** `SHA256:` + unpadded base64 of the key blob's sha256, as `ssh-keygen -l` prints it. */
export const fingerprintSha256 = (keyBlob: Uint8Array): string =>
  `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`

/** The name OpenSSH records: `host` for port 22, `[host]:port` otherwise. */
export const hostPattern = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`)

/** The key type named inside an SSH wire-format public key blob. */
export const keyTypeOfBlob = (keyBlob: Uint8Array): string => {
  if (keyBlob.length < 4) return ""
  const len = Buffer.from(keyBlob.buffer, keyBlob.byteOffset, keyBlob.length).readUInt32BE(0)
  return Buffer.from(keyBlob.subarray(4, 4 + len)).toString("latin1")
}

export type KnownHostsVerdict =
  | { readonly _tag: "Match" }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Mismatch"; readonly knownKeyType: string; readonly line: number }
  /** No key of the offered type is known for the host, but one of another type is: a changed key too. */
  | { readonly _tag: "OtherType"; readonly knownKeyType: string; readonly line: number }

interface Entry {
  readonly line: number
  readonly marker: "" | "@revoked" | "@cert-authority"
  readonly patterns: string
  readonly keyType: string
  readonly key: Buffer
}

const parse = (text: string): Array<Entry> => {
  const entries: Array<Entry> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim()
    if (raw === "" || raw.startsWith("#")) continue
    const fields = raw.split(/\s+/)
    let marker: Entry["marker"] = ""
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as Entry["marker"]
    else if (fields[0]?.startsWith("@")) continue
    const [patterns, keyType, keyB64] = fields
    if (patterns === undefined || keyType === undefined || keyB64 === undefined) continue
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyB64)) continue
    entries.push({ line: i + 1, marker, patterns, keyType, key: Buffer.from(keyB64, "base64") })
  }
  return entries
}

/** OpenSSH's wildcard match: `*` any run, `?` one character; case-insensitive like hostnames. */
const wildcard = (pattern: string, name: string): boolean => {
  const re = new RegExp(
    "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$",
    "i"
  )
  return re.test(name)
}

const hashedMatch = (entry: string, name: string): boolean => {
  const parts = entry.split("|") // ["", "1", salt, hash]
  if (parts.length !== 4 || parts[1] !== "1") return false
  const salt = Buffer.from(parts[2]!, "base64")
  const expected = Buffer.from(parts[3]!, "base64")
  const actual = createHmac("sha1", salt).update(name).digest()
  return expected.length === actual.length && expected.equals(actual)
}

/** Does a comma-separated pattern list name this host? A matching negation excludes it. */
const patternsMatch = (patterns: string, name: string): boolean => {
  if (patterns.startsWith("|")) return hashedMatch(patterns, name)
  let matched = false
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (wildcard(p.slice(1), name)) return false
    } else if (wildcard(p, name)) {
      matched = true
    }
  }
  return matched
}

/** Check a server's host key against the text of a known_hosts file. */
export const verifyKnownHosts = (
  fileText: string,
  host: string,
  port: number,
  keyType: string,
  keyBlob: Uint8Array
): KnownHostsVerdict => {
  const name = hostPattern(host, port)
  const blob = Buffer.from(keyBlob)
  let matched = false
  let mismatch: KnownHostsVerdict | undefined
  let otherType: KnownHostsVerdict | undefined
  for (const e of parse(fileText)) {
    if (e.marker === "@cert-authority") continue
    if (!patternsMatch(e.patterns, name)) continue
    const same = e.key.equals(blob)
    if (e.marker === "@revoked") {
      if (same) return { _tag: "Mismatch", knownKeyType: `revoked ${e.keyType}`, line: e.line }
      continue
    }
    if (same) matched = true
    else if (e.keyType === keyType) {
      if (mismatch === undefined) mismatch = { _tag: "Mismatch", knownKeyType: e.keyType, line: e.line }
    } else if (otherType === undefined) {
      otherType = { _tag: "OtherType", knownKeyType: e.keyType, line: e.line }
    }
  }
  if (matched) return { _tag: "Match" }
  return mismatch ?? otherType ?? { _tag: "Unknown" }
}

/** The key types known for this host (revoked keys and CA entries aside), in file order. */
export const knownKeyTypes = (fileText: string, host: string, port: number): Array<string> => {
  const name = hostPattern(host, port)
  const types: Array<string> = []
  for (const e of parse(fileText)) {
    if (e.marker !== "" || !patternsMatch(e.patterns, name)) continue
    if (!types.includes(e.keyType)) types.push(e.keyType)
  }
  return types
}

/** A plain (unhashed) known_hosts line for this host and key. */
export const formatKnownHostsLine = (host: string, port: number, keyType: string, keyBlob: Uint8Array): string =>
  `${hostPattern(host, port)} ${keyType} ${Buffer.from(keyBlob).toString("base64")}`
