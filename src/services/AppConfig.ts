/**
 * The resolved configuration of a running server: limits, server options and the
 * hosts given up front. Built from defaults, the TOML file and flags (in that
 * order of precedence, lowest first) by `src/config/`; services read it from here.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"
import { Context, Layer } from "effect"
import type { AlgorithmLists } from "../ssh/algorithms.js"

/** Numeric limits; every one has a default and can be set in `[limits]`. */
export interface Limits {
  /** Lines kept per stream of a job before the oldest are evicted. */
  readonly ringBufferLines: number
  /** Bytes of line text kept per stream of a job. */
  readonly ringBufferBytes: number
  readonly maxJobsPerHost: number
  /** Jobs held in memory, all hosts, running or finished and not yet reaped or removed. */
  readonly maxJobs: number
  readonly reapFinishedAfterSec: number
  readonly reconnectRetries: number
  readonly reconnectDelaySec: number
  /** A longer line is cut with a marker. */
  readonly maxLineBytes: number
  /** Per stream cap of `ssh_exec` output (head and tail kept). */
  readonly maxOutputBytes: number
  /** Grace between TERM and KILL when a process group is stopped. */
  readonly killGraceMs: number
  readonly connectTimeoutMs: number
  readonly keepaliveIntervalMs: number
  /** An extra connection (opened past the server's MaxSessions) closes after this long without a channel. */
  readonly extraConnectionIdleSec: number
  /** Hosts the registry holds at most (configured ones included). */
  readonly maxHosts: number
}

/** Where a host definition came from, as `ssh_list_hosts` reports it. */
export type HostSource = "cli" | "config-file" | "runtime" | "ssh-config"

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
  readonly source: HostSource
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "none"

export interface AppConfigShape {
  readonly limits: Limits
  readonly hosts: ReadonlyArray<HostConfig>
  readonly defaultHost?: string
  /** Accept and record unknown host keys (never changed ones). */
  readonly insecureAutoAdd: boolean
  /** Honour `insecure_auto_add: true` when the agent passes it to `ssh_connect`. */
  readonly allowAgentInsecureAutoAdd: boolean
  /** Transport algorithms offered, per list; a missing list means our default (ssh2's without the weak ones). */
  readonly algorithms?: Partial<AlgorithmLists>
  /** The known_hosts file read and written (default `~/.ssh/known_hosts`). */
  readonly knownHostsPath: string
  /** OpenSSH client config consulted by `ssh_connect` (default `~/.ssh/config`). */
  readonly sshConfigPath: string
  /** When set, every job line is appended to `<logDir>/<job_id>.log`. */
  readonly logDir?: string
  readonly logLevel: LogLevel
}

export const defaultLimits: Limits = {
  ringBufferLines: 10_000,
  ringBufferBytes: 8 * 1024 * 1024,
  maxJobsPerHost: 50,
  maxJobs: 1000,
  reapFinishedAfterSec: 600,
  reconnectRetries: 3,
  reconnectDelaySec: 2,
  maxLineBytes: 64 * 1024,
  maxOutputBytes: 256 * 1024,
  killGraceMs: 5_000,
  connectTimeoutMs: 20_000,
  keepaliveIntervalMs: 15_000,
  extraConnectionIdleSec: 60,
  maxHosts: 256
}

/** The configuration used when nothing is configured (credential-free mode). */
export const defaultConfig = (): AppConfigShape => ({
  limits: defaultLimits,
  hosts: [],
  insecureAutoAdd: false,
  allowAgentInsecureAutoAdd: false,
  knownHostsPath: path.join(os.homedir(), ".ssh", "known_hosts"),
  sshConfigPath: path.join(os.homedir(), ".ssh", "config"),
  logLevel: "info"
})

/** The server's resolved configuration. */
export class AppConfig extends Context.Service<AppConfig, AppConfigShape>()("mcp-ssh-live/AppConfig") {
  /** Defaults overridden by `overrides` (limits merge key by key). */
  static readonly layer = (overrides: Partial<Omit<AppConfigShape, "limits">> & { readonly limits?: Partial<Limits> } = {}) =>
    Layer.succeed(AppConfig)(AppConfig.of(mergeConfig(defaultConfig(), overrides)))
}

/** `base` overridden by `overrides`; limits merge key by key. */
export const mergeConfig = (
  base: AppConfigShape,
  overrides: Partial<Omit<AppConfigShape, "limits">> & { readonly limits?: Partial<Limits> }
): AppConfigShape => ({ ...base, ...overrides, limits: { ...base.limits, ...overrides.limits } })
