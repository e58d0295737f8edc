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

/** Shell metacharacters OpenSSH refuses in a host name (`valid_hostname`, since 9.6; the comma since 9.8). */
const HOST_METACHARACTERS = "'`\"$\\;&<>|(){},"
/** Those it refuses in a user name (`valid_ruser`): `$` and `\` may appear, but not a `\` at the end. */
const USER_METACHARACTERS = "'`\";&<>|(){}"

const named = (c: string) => JSON.stringify(c)

/**
 * Why OpenSSH would refuse `host` as a host name given on its command line (a leading `-`,
 * a shell metacharacter, whitespace, a control character), or undefined when it is fine.
 */
export const hostnameProblem = (host: string): string | undefined => {
  if (host.startsWith("-")) return "must not start with \"-\""
  const bad = [...host].find((c) => HOST_METACHARACTERS.includes(c) || /[\s\p{Cc}]/u.test(c))
  return bad === undefined
    ? undefined
    : `${named(bad)} is not allowed: as with ssh, a host name holds no shell metacharacter (${HOST_METACHARACTERS}), whitespace or control character`
}

/**
 * Why OpenSSH would refuse `user` as a remote user name given on its command line (a
 * leading `-`, a shell metacharacter, a control character, whitespace before a `-`, a
 * trailing `\`), or undefined when it is fine.
 */
export const remoteUserProblem = (user: string): string | undefined => {
  if (user.startsWith("-")) return "must not start with \"-\""
  const bad = [...user].find((c) => USER_METACHARACTERS.includes(c) || /\p{Cc}/u.test(c))
  if (bad !== undefined) {
    return `${named(bad)} is not allowed: as with ssh, a user name holds no shell metacharacter (${USER_METACHARACTERS}) or control character`
  }
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
  const hostProblem = hostTokens ? hostnameProblem(agentNames.host) ?? (used.has("h") ? hostnameProblem(v.hostName) : undefined) : undefined
  if (hostProblem !== undefined) throw new UnsafeNameError("host", `host: ${hostProblem}`)
  const userProblem = used.has("r") && agentNames.user !== undefined ? remoteUserProblem(agentNames.user) : undefined
  if (userProblem !== undefined) throw new UnsafeNameError("user", `user: ${userProblem}`)
  return expandTokens(command, v, allowed)
}
