/**
 * OpenSSH client configuration (`~/.ssh/config`) for `ssh_connect`: what `ssh`
 * would use for an alias — HostName, User, Port, IdentityFile, ProxyJump,
 * ServerAliveInterval — with first-match-wins and wildcard Host blocks, as
 * computed by the maintained `ssh-config` parser.
 *
 * Looking a name up runs the file's `Match exec` commands (through a shell, as ssh does:
 * they are the operator's) and may run `nslookup` with the name (`CanonicalizeHostName`).
 * The parser does not expand `%h` in them; names the agent gives are checked first
 * (`hostnameProblem`, `remoteUserProblem`: OpenSSH's own rules for names from its command
 * line), so no shell metacharacter, whitespace, control character or leading `-` of
 * theirs can reach any of them.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"
import SSHConfig from "ssh-config"
import type { HostEntry } from "../domain/hosts.js"

export interface SshConfigHost {
  readonly hostName: string
  readonly user?: string
  readonly port?: number
  readonly identityFiles: ReadonlyArray<string>
  /** Jump hosts as written (`[user@]host[:port]` or an alias of this file), in order. */
  readonly proxyJump?: ReadonlyArray<string>
  readonly serverAliveIntervalSec?: number
  /** A Host block other than `Host *` named this alias. */
  readonly named: boolean
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

const first = (v: string | Array<string> | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)

/** `%h %p %r %u %d %%` and `~` as ssh expands them in IdentityFile. */
const expandTokens = (value: string, host: string, port: number, user: string, home: string): string => {
  const out = value.replace(/%([hpurd%])/g, (_m, t: string) =>
    t === "h" ? host : t === "p" ? String(port) : t === "r" ? user : t === "u" ? (os.userInfo().username) : t === "d" ? home : "%")
  return out === "~" || out.startsWith("~/") ? path.join(home, out.slice(1)) : out
}

/** Resolve `alias` against the text of an ssh config file. */
export const resolveSshConfig = (configText: string, alias: string, home: string, localUser: string): SshConfigHost => {
  const computed = SSHConfig.parse(configText).compute(alias) as Record<string, string | Array<string> | undefined>
  const hostName = first(computed.HostName)?.replace(/%h/g, alias) ?? alias
  const portText = first(computed.Port)
  const port = portText === undefined ? undefined : Number(portText)
  const user = first(computed.User)
  const jumpText = first(computed.ProxyJump)
  const alive = first(computed.ServerAliveInterval)
  const identity = computed.IdentityFile
  const files = identity === undefined ? [] : Array.isArray(identity) ? identity : [identity]
  const patterns = SSHConfig.parse(configText)
    .filter((l): l is typeof l & { param: string; value: string | Array<string> } => "param" in l && /^host$/i.test(String(l.param)))
    .flatMap((l) => (Array.isArray(l.value) ? l.value : String(l.value).split(/\s+/)).map(String))
  const named = patterns.some((p) => !p.includes("*") && !p.includes("?") && !p.startsWith("!") && p === alias)
  return {
    hostName,
    ...(user !== undefined ? { user } : {}),
    ...(port !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? { port } : {}),
    identityFiles: files.map((f) => expandTokens(f, hostName, port ?? 22, user ?? localUser, home)),
    ...(jumpText !== undefined && jumpText.toLowerCase() !== "none" ? { proxyJump: jumpText.split(",").map((j) => j.trim()).filter((j) => j !== "") } : {}),
    ...(alive !== undefined && Number(alive) > 0 ? { serverAliveIntervalSec: Number(alive) } : {}),
    named
  }
}

/** Split a ProxyJump element `[user@]host[:port]` (`[v6]:port` too). */
export const parseJump = (spec: string): { readonly user?: string; readonly host: string; readonly port?: number } => {
  const at = spec.lastIndexOf("@")
  const user = at >= 0 ? spec.slice(0, at) : undefined
  const rest = at >= 0 ? spec.slice(at + 1) : spec
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest)
  const host = m?.[1] ?? rest
  const port = m?.[2] === undefined ? undefined : Number(m[2])
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) }
}

/** A registry entry for a jump host given as `[user@]host[:port]` or as an alias of the config. */
export const jumpEntry = (
  configText: string,
  spec: string,
  home: string,
  localUser: string,
  insecureAutoAdd: boolean
): HostEntry => {
  const j = parseJump(spec)
  const r = resolveSshConfig(configText, j.host, home, localUser)
  return {
    alias: `jump:${spec}`,
    address: r.hostName,
    port: j.port ?? r.port ?? 22,
    user: j.user ?? r.user ?? localUser,
    auth: r.identityFiles.length > 0 ? { identityFiles: r.identityFiles } : {},
    source: "ssh-config",
    insecureAutoAdd
  }
}
