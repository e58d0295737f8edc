/**
 * OpenSSH client configuration (`~/.ssh/config`) for `ssh_connect`: what `ssh`
 * would use for an alias — HostName, User, Port, IdentityFile, CertificateFile,
 * IdentityAgent, IdentitiesOnly, ProxyJump, ProxyCommand, ServerAliveInterval — with
 * Host and Match blocks, Include and `%` tokens, evaluated as ssh does
 * (`sshConfigEval.ts`). What applies and is not honoured is listed (`ignored`).
 *
 * Looking a name up runs the file's `Match exec` commands (through a shell, as ssh does:
 * they are the operator's, with their `%` tokens expanded), and connecting runs its
 * `ProxyCommand`. Names the agent gives are checked first (`hostnameProblem`,
 * `remoteUserProblem`: OpenSSH's own rules for names from its command line; `Hosts.connect`
 * checks every name, `expandCommand` again any that a token puts into a command), so no
 * shell metacharacter, whitespace, control character or leading `-` of theirs can reach
 * any of them. `CanonicalizeHostName` is not honoured (no `nslookup` runs).
 *
 * @since 0.1.0
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import type { HostEntry } from "../domain/hosts.js"
import { evaluateSshConfig } from "./sshConfigEval.js"
import { expandCommand, expandPath, expandTokens, type TokenValues } from "./sshTokens.js"

export { hostnameProblem, remoteUserProblem } from "./sshTokens.js"

export interface SshConfigHost {
  readonly hostName: string
  readonly user?: string
  readonly port?: number
  readonly identityFiles: ReadonlyArray<string>
  /** Jump hosts as written (`[user@]host[:port]` or an alias of this file), in order. */
  readonly proxyJump?: ReadonlyArray<string>
  readonly serverAliveIntervalSec?: number
  /** ProxyCommand with its tokens expanded (`none` is no command). */
  readonly proxyCommand?: string
  readonly certificateFiles: ReadonlyArray<string>
  /** IdentityAgent: a socket path, or `none`. */
  readonly identityAgent?: string
  readonly identitiesOnly?: boolean
  /** Directives (and Match criteria) that applied but are not honoured, as written. */
  readonly ignored: ReadonlyArray<string>
  /** A Host block other than `Host *` named this alias. */
  readonly named: boolean
}

export interface ResolveOptions {
  /** The ssh config file (`~/.ssh/config`). */
  readonly file: string
  readonly home: string
  readonly localUser: string
  /** The user the caller gave (wins over User, as `ssh -l`). */
  readonly user?: string | undefined
  /** How long a `Match exec` command may run before it counts as failed. */
  readonly matchExecTimeoutMs?: number | undefined
}

const first = (v: ReadonlyArray<string> | undefined): string | undefined => v?.[0]

/** `Match exec` as ssh runs it: `$SHELL -c <command>`, true when it exits 0. */
const runMatchExec = (timeoutMs: number) => (command: string): boolean => {
  const shell = process.env.SHELL !== undefined && process.env.SHELL !== "" ? process.env.SHELL : "/bin/sh"
  return spawnSync(shell, ["-c", command], { stdio: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" }).status === 0
}

/**
 * Resolve `alias` against the ssh config file. Throws `UnsafeNameError` when a name the
 * caller gave would reach a local command (ProxyCommand, Match exec) holding a shell
 * metacharacter.
 */
export const resolveSshConfig = (alias: string, options: ResolveOptions): SshConfigHost => {
  const { home, localUser } = options
  const tokens = (known: { hostName: string; user: string; port: string | undefined }): TokenValues => ({
    hostName: known.hostName,
    original: alias,
    port: Number(known.port ?? 22) || 22,
    user: known.user,
    localUser,
    home
  })
  const { values, ignored } = evaluateSshConfig({
    host: alias,
    user: options.user,
    localUser,
    home,
    file: options.file,
    exec: runMatchExec(options.matchExecTimeoutMs ?? 10_000),
    expandExec: (command, known) => expandCommand(command, tokens(known), "%CdhiLlnpru", { host: alias, user: options.user })
  })
  const hostName = expandTokens(first(values.get("hostname")) ?? alias, tokens({ hostName: alias, user: "", port: undefined }), "h")
  const portText = first(values.get("port"))
  const port = portText === undefined ? undefined : Number(portText)
  const validPort = port !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
  const configUser = first(values.get("user"))
  const jumpText = first(values.get("proxyjump"))
  const proxyJump = jumpText !== undefined && jumpText.toLowerCase() !== "none"
    ? jumpText.split(",").map((j) => j.trim()).filter((j) => j !== "")
    : undefined
  const pre = tokens({ hostName, user: options.user ?? configUser ?? localUser, port: String(validPort ?? 22) })
  const userName = configUser === undefined ? undefined : expandTokens(configUser, pre, "dhiLlnpu")
  const final: TokenValues = { ...pre, user: options.user ?? userName ?? localUser, jump: jumpText ?? "" }
  const proxyText = first(values.get("proxycommand"))
  const proxyCommand = proxyText !== undefined && proxyText.toLowerCase() !== "none"
    ? expandCommand(proxyText, final, "hnpr", { host: alias, user: options.user })
    : undefined
  const alive = first(values.get("serveraliveinterval"))
  const agent = first(values.get("identityagent"))
  const only = first(values.get("identitiesonly"))?.toLowerCase()
  return {
    hostName,
    ...(userName !== undefined ? { user: userName } : {}),
    ...(validPort !== undefined ? { port: validPort } : {}),
    identityFiles: (values.get("identityfile") ?? []).filter((f) => f.toLowerCase() !== "none").map((f) => expandPath(f, final)),
    ...(proxyJump !== undefined ? { proxyJump } : {}),
    ...(alive !== undefined && Number(alive) > 0 ? { serverAliveIntervalSec: Number(alive) } : {}),
    ...(proxyCommand !== undefined ? { proxyCommand } : {}),
    certificateFiles: (values.get("certificatefile") ?? []).map((f) => expandPath(f, final)),
    ...(agent !== undefined ? { identityAgent: identityAgentPath(agent, final) } : {}),
    ...(only === "yes" || only === "no" ? { identitiesOnly: only === "yes" } : {}),
    ignored,
    named: namedByHostBlock(options.file, alias)
  }
}

/** IdentityAgent's value: `none`, `SSH_AUTH_SOCK` (that variable), `$VAR`, or a path with tokens. */
const identityAgentPath = (value: string, v: TokenValues): string => {
  if (value.toLowerCase() === "none") return "none"
  if (value === "SSH_AUTH_SOCK") return process.env.SSH_AUTH_SOCK ?? "none"
  if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return process.env[value.slice(1)] ?? "none"
  return expandPath(value, v)
}

/** Whether a `Host` line of the file names `alias` itself (not through a wildcard or negation). */
const namedByHostBlock = (file: string, alias: string): boolean => {
  try {
    const text = fs.readFileSync(file, "utf8")
    return text.split(/\r?\n/).some((line) => {
      const m = /^\s*host\s*[=\s]\s*(.*)$/i.exec(line)
      return m !== null && m[1]!.replace(/#.*$/, "").split(/\s+/).map((p) => p.replace(/^"|"$/g, "")).some((p) => p === alias)
    })
  } catch {
    return false
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
  options: ResolveOptions,
  spec: string,
  insecureAutoAdd: boolean
): HostEntry => {
  const j = parseJump(spec)
  const r = resolveSshConfig(j.host, { ...options, user: j.user })
  return {
    alias: `jump:${spec}`,
    address: r.hostName,
    port: j.port ?? r.port ?? 22,
    user: j.user ?? r.user ?? options.localUser,
    auth: authFromConfig(r),
    source: "ssh-config",
    insecureAutoAdd,
    ...(r.proxyCommand !== undefined ? { proxyCommand: r.proxyCommand } : {})
  }
}

/** The auth settings ssh_config gives a host. */
export const authFromConfig = (r: SshConfigHost): HostEntry["auth"] => ({
  ...(r.identityFiles.length > 0 ? { identityFiles: r.identityFiles } : {}),
  ...(r.certificateFiles.length > 0 ? { certificateFiles: r.certificateFiles } : {}),
  ...(r.identityAgent !== undefined ? { identityAgent: r.identityAgent } : {}),
  ...(r.identitiesOnly !== undefined ? { identitiesOnly: r.identitiesOnly } : {})
})
