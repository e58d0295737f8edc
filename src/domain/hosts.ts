/**
 * Hosts as every layer sees them: where a definition came from, what an alias and an
 * environment variable name may be, and a registry entry (secrets only as `Redacted`).
 *
 * @since 0.1.0
 */
import { Schema, type Redacted } from "effect"
import type { PolicyRules } from "./policyRules.js"

/** Where a host definition came from, as `ssh_list_hosts` reports it. */
export const HostSource = Schema.Literals(["cli", "config-file", "runtime", "ssh-config"])
export type HostSource = typeof HostSource.Type

/**
 * What an alias may be, wherever it is defined: it is shown to people (the host-key
 * question) and in logs, so no spaces, quotes, newlines or other control characters.
 */
export const ALIAS_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/**
 * An alias (and a group name, which follows the same rule), wherever one is taken: the config
 * file, the registry, the tools' `host`. The rule is said in words where it is published (a
 * tool's description), so a JSON Schema made from this carries no pattern.
 */
export const Alias = Schema.String.check(Schema.isPattern(ALIAS_PATTERN, { toJsonSchema: () => ({}) })).pipe(Schema.brand("Alias"))
export type Alias = typeof Alias.Type
export const isAlias: (u: unknown) => u is Alias = Schema.is(Alias)

/** The longest DNS name (RFC 1035); addresses and ssh_config Host names are shorter. */
export const HOSTNAME_MAX = 253

/**
 * A host to dial: a DNS name, an IP address or an ssh_config Host. Not empty, at most 253
 * characters, no NUL; what ssh itself refuses (shell metacharacters, whitespace) is refused by
 * `Hosts.connect`, naming the field. The bounds only guard against nonsense: not published.
 */
export const Hostname = Schema.String.check(
  Schema.isMinLength(1, { toJsonSchema: () => ({}) }),
  Schema.isMaxLength(HOSTNAME_MAX, { toJsonSchema: () => ({}) }),
  Schema.makeFilter((s: string) => (s.includes("\u0000") ? "must not contain NUL characters" : undefined), { toJsonSchema: () => ({}) })
).pipe(Schema.brand("Hostname"))
export type Hostname = typeof Hostname.Type

/** Valid environment variable names (what POSIX shells accept for `export`). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
export const EnvName = Schema.String.check(Schema.isPattern(ENV_NAME)).pipe(Schema.brand("EnvName"))
export type EnvName = typeof EnvName.Type
export const isEnvName: (u: unknown) => u is EnvName = Schema.is(EnvName)

/** A host defined before start (flags or the TOML file). Secrets are only env var names here. */
export interface HostConfig {
  readonly alias: string
  readonly host: string
  readonly port: number
  readonly user?: string
  readonly passwordEnv?: string
  readonly key?: string
  readonly keyPassphraseEnv?: string
  readonly sudoPasswordEnv?: string
  /** `sudo: true` may use the login password (`sudo_with_login_password`); unset: the global setting. */
  readonly sudoWithLoginPassword?: boolean
  /** `proxy_command`: the operator's command whose stdio is the SSH transport (`%h %p %r %n %%` expanded). */
  readonly proxyCommand?: string
  readonly source: HostSource
  /** `[hosts.<alias>.policy]`: this host's rules, combined with `AppConfigShape.policy`. */
  readonly policy?: PolicyRules
}

/** How to authenticate. Secrets given at runtime are `Redacted`; configured ones are env var names. */
export interface HostAuth {
  readonly password?: Redacted.Redacted<string>
  readonly passwordEnv?: string
  readonly keyPath?: string
  readonly passphrase?: Redacted.Redacted<string>
  readonly passphraseEnv?: string
  readonly sudoPasswordEnv?: string
  /** `sudo: true` may use the login password (`sudo_with_login_password`); unset: the global setting. */
  readonly sudoWithLoginPassword?: boolean
  /** Keys to try when no keyPath is given (IdentityFile from ~/.ssh/config), instead of ~/.ssh/id_*. */
  readonly identityFiles?: ReadonlyArray<string>
  /** CertificateFile from ~/.ssh/config (`<key>-cert.pub` beside a key is found without it). */
  readonly certificateFiles?: ReadonlyArray<string>
  /** IdentityAgent from ~/.ssh/config: the agent's socket, or `none`; default SSH_AUTH_SOCK. */
  readonly identityAgent?: string
  /** IdentitiesOnly from ~/.ssh/config: the agent offers only the keys named. */
  readonly identitiesOnly?: boolean
}

export interface HostEntry {
  readonly alias: string
  /** Address (name or IP) dialled. */
  readonly address: string
  readonly port: number
  readonly user: string
  readonly auth: HostAuth
  readonly source: HostSource
  /** Accept and record an unknown host key for this host. */
  readonly insecureAutoAdd: boolean
  /** Jump hosts to go through, in order (ProxyJump). */
  readonly proxyJump?: ReadonlyArray<HostEntry>
  /** Keepalive interval (ServerAliveInterval), when not the configured default. */
  readonly keepaliveIntervalMs?: number
  /**
   * ProxyCommand (the operator's: ssh_config or proxy_command, never the agent's), tokens
   * expanded: run through the shell, its stdio is the transport of the first hop.
   */
  readonly proxyCommand?: string
}
