/**
 * ssh_config's `%` tokens, expanded as ssh(1) does for each directive, and the rule that
 * keeps names the agent gave out of local commands: a host or user name holding a shell
 * metacharacter is refused before it is put into one (ProxyCommand, Match exec), as
 * OpenSSH 9.6 refuses them on its command line.
 *
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"

/** What the tokens stand for. */
export interface TokenValues {
  /** %h: the host name dialled (HostName, expanded). */
  readonly hostName: string
  /** %n: the name as given. */
  readonly original: string
  /** %p */
  readonly port: number
  /** %r: the remote user. */
  readonly user: string
  /** %u: the local user. */
  readonly localUser: string
  /** %d: the local home directory. */
  readonly home: string
  /** %j: the ProxyJump value, or empty. */
  readonly jump?: string | undefined
}

/** A name the agent gave that must not reach a shell. */
export class UnsafeNameError extends Error {
  readonly field: "host" | "user"
  constructor(field: "host" | "user", message: string) {
    super(message)
    this.field = field
  }
}

/** OpenSSH's `valid_hostname` (9.6): no shell metacharacter, whitespace, control character or leading `-`. */
export const unsafeHostName = (host: string): string | undefined => {
  if (host.startsWith("-")) return "must not start with \"-\""
  const bad = [...host].find((c) => "'`\"$\\;&<>|(){},".includes(c) || /[\s\p{Cc}]/u.test(c))
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not allowed in a host name that reaches a local command (as with ssh)`
}

/** OpenSSH's `valid_ruser`: no shell metacharacter, control character, leading `-`, whitespace before `-` or trailing `\`. */
export const unsafeUserName = (user: string): string | undefined => {
  if (user.startsWith("-")) return "must not start with \"-\""
  const bad = [...user].find((c) => "'`\";&<>|(){}".includes(c) || /\p{Cc}/u.test(c))
  if (bad !== undefined) return `${JSON.stringify(bad)} is not allowed in a user name that reaches a local command (as with ssh)`
  if (/\s-/u.test(user)) return "must not hold whitespace followed by \"-\" (as with ssh)"
  if (user.endsWith("\\")) return "must not end with \"\\\" (as with ssh)"
  return undefined
}

const localHost = () => os.hostname()

/**
 * `%C`: the SHA-1 of `%l%h%p%r%j` in hex, as ssh computes it for ControlPath and the like.
 */
const connectionHash = (v: TokenValues) =>
  createHash("sha1").update(`${localHost()}${v.hostName}${v.port}${v.user}${v.jump ?? ""}`).digest("hex")

const ALL = "%CdhijLlnpru"

/** Expand the `%` tokens of `allowed` in `value`; other tokens are left as they are, `%%` is `%`. */
export const expandTokens = (value: string, v: TokenValues, allowed = ALL): string =>
  value.replace(/%(.)/g, (whole, t: string) => {
    if (t === "%") return "%"
    if (!allowed.includes(t)) return whole
    switch (t) {
      case "C":
        return connectionHash(v)
      case "d":
        return v.home
      case "h":
        return v.hostName
      case "i":
        return String(process.getuid?.() ?? "")
      case "j":
        return v.jump ?? ""
      case "L":
        return localHost().split(".")[0] ?? ""
      case "l":
        return localHost()
      case "n":
        return v.original
      case "p":
        return String(v.port)
      case "r":
        return v.user
      case "u":
        return v.localUser
      default:
        return whole
    }
  })

/** A path as ssh reads IdentityFile, CertificateFile, IdentityAgent: `~`, `${VAR}` and every token. */
export const expandPath = (value: string, v: TokenValues): string => {
  const withEnv = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => process.env[name] ?? "")
  const out = expandTokens(withEnv, v)
  return out === "~" || out.startsWith("~/") ? path.join(v.home, out.slice(1)) : out
}

/**
 * A command that runs locally (ProxyCommand: `%h %n %p %r %%`; Match exec: every token).
 * `agentNames` are the names the agent gave: if a token would put one holding a shell
 * metacharacter into the command, `UnsafeNameError` is thrown (naming the field).
 */
export const expandCommand = (
  command: string,
  v: TokenValues,
  allowed: string,
  agentNames: { readonly host: string; readonly user?: string | undefined }
): string => {
  const used = new Set([...command.matchAll(/%(.)/g)].map((m) => m[1]!).filter((t) => t !== "%" && allowed.includes(t)))
  const hostTokens = ["h", "n"].some((t) => used.has(t))
  const hostProblem = hostTokens ? unsafeHostName(agentNames.host) ?? (used.has("h") ? unsafeHostName(v.hostName) : undefined) : undefined
  if (hostProblem !== undefined) throw new UnsafeNameError("host", `host: ${hostProblem}`)
  const userProblem = used.has("r") && agentNames.user !== undefined ? unsafeUserName(agentNames.user) : undefined
  if (userProblem !== undefined) throw new UnsafeNameError("user", `user: ${userProblem}`)
  return expandTokens(command, v, allowed)
}
