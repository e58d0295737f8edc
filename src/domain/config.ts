/**
 * The shape of a resolved configuration: limits, server options and the hosts given up
 * front. `src/config/` builds it from defaults, the TOML file and flags; the `AppConfig`
 * service (src/domain/AppConfig.ts) hands it to the services.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"
import { Schema } from "effect"
import type { HostConfig } from "./hosts.js"
import { defaultLimits, type Limits } from "./limits.js"
import type { PolicyRules } from "./policyRules.js"

export const LogLevel = Schema.Literals(["trace", "debug", "info", "warn", "error", "none"])
export type LogLevel = typeof LogLevel.Type

/** Transport algorithm lists, per kind (`[server.algorithms]`). */
export interface AlgorithmLists {
  readonly kex: ReadonlyArray<string>
  readonly cipher: ReadonlyArray<string>
  readonly hmac: ReadonlyArray<string>
  readonly serverHostKey: ReadonlyArray<string>
}

export interface AppConfigShape {
  readonly limits: Limits
  readonly hosts: ReadonlyArray<HostConfig>
  readonly defaultHost?: string
  /** Named sets of host aliases (`[groups]`), for `ssh_exec_many`; members are aliases of `hosts`. */
  readonly groups?: Readonly<Record<string, ReadonlyArray<string>>>
  /** Accept and record unknown host keys of the configured `hosts` (never changed ones; never hosts added at run time). */
  readonly insecureAutoAdd: boolean
  /** Honour `insecure_auto_add: true` when the agent passes it to `ssh_connect`. */
  readonly allowAgentInsecureAutoAdd: boolean
  /** Let a tunnel listen on this machine at a non-loopback address (`ssh_tunnel_open` local / dynamic). */
  readonly allowTunnelBindAny: boolean
  /**
   * `sudo: true` may answer sudo with the password the host was connected with, where the host
   * has no `sudo_password_env` (`[server] sudo_with_login_password`; a host's own setting wins).
   */
  readonly sudoWithLoginPassword?: boolean
  /** Transport algorithms offered, per list; a missing list means our default (ssh2's without the weak ones). */
  readonly algorithms?: Partial<AlgorithmLists>
  /** The known_hosts file read and written (default `~/.ssh/known_hosts`). */
  readonly knownHostsPath: string
  /** OpenSSH client config consulted by `ssh_connect` (default `~/.ssh/config`). */
  readonly sshConfigPath: string
  /** When set, every job line is appended to `<logDir>/<job_id>.log`. */
  readonly logDir?: string
  /** When set, one JSON line per MCP tool call is appended to this file (0600). */
  readonly auditLog?: string
  /**
   * `[server] local_roots` / `--local-root`: the only local directories transfers read and
   * write (absolute). Unset: the home and the system temp directory, narrowed by a stdio
   * client's MCP roots. Either way /proc, /sys, /dev, ~/.ssh and the server's own files are
   * left out, except under a root the operator named inside one of them.
   */
  readonly localRoots?: ReadonlyArray<string>
  /** The TOML config file read or looked for (one of the server's own files: never a transfer's). */
  readonly configPath?: string
  /** Where `record: true` jobs are saved as asciicast (`<recordDir>/<job_id>.cast`); default `logDir`. */
  readonly recordDir?: string
  /** When set, the live view is also served as a web page on 127.0.0.1 at this port (0: any free one). */
  readonly viewPort?: number
  readonly logLevel: LogLevel
  /**
   * `[policy]`: rules for every host, those the agent adds too (off when absent). Per-host
   * rules are `HostConfig.policy`. Regexes must compile (RE2): check with `compileRules`.
   */
  readonly policy?: PolicyRules
  /**
   * `[group_policy.<group>]`: rules for the members of a `[groups]` group (the config's
   * members only: a host the agent adds to a group at runtime does not get them).
   */
  readonly groupPolicies?: Readonly<Record<string, PolicyRules>>
}

/** What a caller may override: any field, limits key by key. */
export type AppConfigOverrides = Partial<Omit<AppConfigShape, "limits">> & { readonly limits?: Partial<Limits> }

/** The configuration used when nothing is configured (credential-free mode). */
export const defaultConfig = (): AppConfigShape => ({
  limits: defaultLimits,
  hosts: [],
  insecureAutoAdd: false,
  allowAgentInsecureAutoAdd: false,
  allowTunnelBindAny: false,
  knownHostsPath: path.join(os.homedir(), ".ssh", "known_hosts"),
  sshConfigPath: path.join(os.homedir(), ".ssh", "config"),
  logLevel: "info"
})

/** `base` overridden by `overrides`; limits merge key by key. */
export const mergeConfig = (base: AppConfigShape, overrides: AppConfigOverrides): AppConfigShape => ({
  ...base,
  ...overrides,
  limits: { ...base.limits, ...overrides.limits }
})
