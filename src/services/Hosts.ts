/**
 * Hosts as a user of the package sees them: connect one (from what the caller gives and
 * from `~/.ssh/config`: HostName, User, Port, IdentityFile, CertificateFile, IdentityAgent,
 * IdentitiesOnly, ProxyJump, ProxyCommand, ServerAliveInterval, with Include and Match),
 * disconnect it, list them with their state. What `ssh_connect`,
 * `ssh_disconnect` and `ssh_list_hosts` do, for library users too; the registry
 * (`HostRegistry`) and the live connections (`Connections`) stay separate services.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import { Context, Effect, Layer, Redacted } from "effect"
import { authFromConfig, hostnameProblem, jumpEntry, remoteUserProblem, type ResolveOptions, resolveSshConfig } from "../config/sshConfig.js"
import { UnsafeNameError } from "../config/sshTokens.js"
import {
  HostKeyUnknownError,
  type HostExistsError,
  type HostNotFoundError,
  InvalidArgumentError,
  type LimitReachedError
} from "../domain/errors.js"
import { type HostEntry, type HostSource, isAlias } from "../domain/hosts.js"
import type { Termination } from "../domain/jobs.js"
import { AppConfig } from "../domain/AppConfig.js"
import { type ConnectFailure, type ConnectionInfo, Connections, type ConnectOptions } from "./Connections.js"
import { aliasForHost, authMethodOf, defaultUser, HostRegistry } from "./HostRegistry.js"
import { Jobs } from "./Jobs.js"
import { Tunnels } from "./Tunnels.js"

const sameSecret = (a: Redacted.Redacted<string> | undefined, b: Redacted.Redacted<string> | undefined): boolean =>
  a === undefined || b === undefined ? a === b : Redacted.value(a) === Redacted.value(b)

/**
 * Whether a connection made for `a` is the one `b` asks for: what is dialled, how it
 * authenticates and is kept alive, through which jumps. `source` and the sudo password
 * are not part of the connection.
 */
const sameConnection = (a: HostEntry, b: HostEntry): boolean =>
  a.address === b.address && a.port === b.port && a.user === b.user &&
  a.insecureAutoAdd === b.insecureAutoAdd && a.keepaliveIntervalMs === b.keepaliveIntervalMs &&
  a.auth.keyPath === b.auth.keyPath && a.auth.passwordEnv === b.auth.passwordEnv &&
  a.auth.passphraseEnv === b.auth.passphraseEnv && a.proxyCommand === b.proxyCommand &&
  a.auth.identityAgent === b.auth.identityAgent && a.auth.identitiesOnly === b.auth.identitiesOnly &&
  (a.auth.certificateFiles ?? []).join("\n") === (b.auth.certificateFiles ?? []).join("\n") &&
  sameSecret(a.auth.password, b.auth.password) && sameSecret(a.auth.passphrase, b.auth.passphrase) &&
  (a.auth.identityFiles ?? []).join("\n") === (b.auth.identityFiles ?? []).join("\n") &&
  (a.proxyJump ?? []).length === (b.proxyJump ?? []).length &&
  (a.proxyJump ?? []).every((jump, i) => sameConnection(jump, b.proxyJump![i]!))

export interface ConnectRequest {
  /** A hostname, an IP address or a `Host` of the ssh config file. */
  readonly host: string
  /** Default: `host`, other characters than `A-Za-z0-9._-` as `_`. */
  readonly alias?: string | undefined
  /** Default: the ssh config's, else 22. */
  readonly port?: number | undefined
  /** Default: the ssh config's, else the local user. */
  readonly user?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly keyPath?: string | undefined
  readonly passphrase?: Redacted.Redacted<string> | undefined
  /**
   * Save an unknown host key without asking: honoured only when `AppConfig` has
   * `allowAgentInsecureAutoAdd` (docs/SECURITY.md, "A prompt-injected agent"). `AppConfig.insecureAutoAdd` covers the configured
   * hosts only, never one added here.
   */
  readonly insecureAutoAdd?: boolean | undefined
  /** Re-register an alias that has other settings (its old connection closes; with the same settings it stays). */
  readonly replace?: boolean | undefined
  /** Groups (for `ExecMany`) the host joins once connected; new names create groups. */
  readonly groups?: ReadonlyArray<string> | undefined
  /** Asked when the host key is unknown (the MCP tool asks the user); without it the key is refused. */
  readonly onUnknownHostKey?: ConnectOptions["onUnknownHostKey"]
  /** Asked for keyboard-interactive answers other than the password (a one-time code); without it AUTH_PROMPT_UNANSWERED. */
  readonly onAuthPrompt?: ConnectOptions["onAuthPrompt"]
}

export interface Connected extends ConnectionInfo {
  /** The alias is the default host (the one used when no host is named). */
  readonly isDefault: boolean
  /** ssh_config directives (and Match criteria) that applied to the host and are not honoured, as written. */
  readonly ignoredConfig: ReadonlyArray<string>
}

export interface Disconnected {
  readonly alias: string
  readonly wasConnected: boolean
  /** The host's running non-persistent jobs, stopped before the connection closed. */
  readonly terminatedJobs: ReadonlyArray<{ readonly jobId: string; readonly termination: Termination }>
}

/** A registered host and its state: how it is reached, never a secret. */
export interface HostStatus {
  readonly alias: string
  readonly address: string
  readonly port: number
  readonly user: string
  /** `key`, `password`, `key+password` or `agent/default-keys`. */
  readonly authMethod: string
  readonly passwordEnv: string | undefined
  readonly keyPath: string | undefined
  readonly connected: boolean
  readonly activeJobs: number
  readonly isDefault: boolean
  readonly source: HostSource
  /** The groups it is in. */
  readonly groups: ReadonlyArray<string>
}

export class Hosts extends Context.Service<Hosts, {
  /**
   * Register a host and connect to it. A failed connection leaves the registry as it
   * was (a new alias is unregistered, a replaced one restored), so a retry with other
   * settings is possible.
   */
  connect(request: ConnectRequest): Effect.Effect<
    Connected,
    ConnectFailure | HostExistsError | LimitReachedError | InvalidArgumentError
  >
  /**
   * Stop the host's running non-persistent jobs (TERM → grace → KILL), close its
   * tunnels and its connection, and forget it. Undefined `alias`: the default host.
   */
  disconnect(alias: string | undefined): Effect.Effect<Disconnected, HostNotFoundError>
  /** Every registered host with its state. */
  readonly list: Effect.Effect<ReadonlyArray<HostStatus>>
}>()("mcp-ssh-live/Hosts") {
  static readonly layer = Layer.effect(Hosts)(Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* HostRegistry
    const connections = yield* Connections
    const jobs = yield* Jobs
    const tunnels = yield* Tunnels

    /** The registry entry for a request: its fields first, then the ssh config's, then the defaults; and what of the config is ignored. */
    const entryFor = (request: ConnectRequest, alias: string, insecureAutoAdd: boolean) =>
      Effect.try({
        try: () => {
          const options: ResolveOptions = {
            file: config.sshConfigPath,
            home: os.homedir(),
            localUser: defaultUser(),
            user: request.user,
            matchExecTimeoutMs: config.limits.connectTimeoutMs
          }
          const resolved = resolveSshConfig(request.host, options)
          const entry: HostEntry = {
            alias,
            address: resolved.hostName,
            port: request.port ?? resolved.port ?? 22,
            user: request.user ?? resolved.user ?? defaultUser(),
            auth: {
              ...(request.password !== undefined ? { password: request.password } : {}),
              ...(request.keyPath !== undefined ? { keyPath: request.keyPath } : {}),
              ...(request.passphrase !== undefined ? { passphrase: request.passphrase } : {}),
              ...authFromConfig(resolved)
            },
            source: resolved.named ? "ssh-config" : "runtime",
            insecureAutoAdd,
            ...(resolved.proxyJump !== undefined
              ? { proxyJump: resolved.proxyJump.map((spec) => jumpEntry({ ...options, user: undefined }, spec, insecureAutoAdd)) }
              : {}),
            ...(resolved.serverAliveIntervalSec !== undefined ? { keepaliveIntervalMs: resolved.serverAliveIntervalSec * 1000 } : {}),
            // From the operator's ssh_config only: no argument of the call sets it.
            ...(resolved.proxyCommand !== undefined ? { proxyCommand: resolved.proxyCommand } : {})
          }
          return { entry, ignored: resolved.ignored }
        },
        catch: (e) =>
          new InvalidArgumentError({
            message: e instanceof UnsafeNameError ? e.message : `host: the ssh config could not be read for it: ${e instanceof Error ? e.message : String(e)}`,
            cause: e
          })
      })

    const connect = Effect.fn("Hosts.connect")(function*(request: ConnectRequest) {
      // Before the ssh_config lookup, which may run the operator's Match exec commands.
      const badHost = hostnameProblem(request.host)
      if (badHost !== undefined) return yield* new InvalidArgumentError({ message: `host: ${badHost}` })
      const badUser = request.user === undefined ? undefined : remoteUserProblem(request.user)
      if (badUser !== undefined) return yield* new InvalidArgumentError({ message: `user: ${badUser}` })
      const alias = request.alias ?? aliasForHost(request.host)
      const badGroup = request.groups?.find((g) => !isAlias(g))
      if (badGroup !== undefined) {
        return yield* new InvalidArgumentError({ message: `groups: ${JSON.stringify(badGroup)} is not 1-64 of A-Z a-z 0-9 . _ -` })
      }
      // The caller never gets more trust than the operator allows callers (docs/SECURITY.md, "A prompt-injected agent"); the
      // operator's own insecure_auto_add is for the hosts they configured, not for these.
      const autoAddIgnored = request.insecureAutoAdd === true && !config.allowAgentInsecureAutoAdd
      const insecureAutoAdd = request.insecureAutoAdd === true && !autoAddIgnored
      const { entry, ignored } = yield* entryFor(request, alias, insecureAutoAdd)
      const previous = (yield* registry.list).find((h) => h.alias === alias)
      yield* registry.register(entry, { replace: request.replace === true })
      // Only other settings need another connection: the same ones keep the live one and its jobs.
      if (previous !== undefined && request.replace === true && !sameConnection(previous, entry)) yield* connections.disconnect(alias)
      const options: ConnectOptions = {
        ...(request.onUnknownHostKey !== undefined ? { onUnknownHostKey: request.onUnknownHostKey } : {}),
        ...(request.onAuthPrompt !== undefined ? { onAuthPrompt: request.onAuthPrompt } : {})
      }
      const info = yield* connections.connect(alias, options).pipe(
        Effect.tapError(() =>
          previous === undefined
            ? registry.remove(alias)
            : Effect.ignore(registry.register(previous, { replace: true }))
        ),
        Effect.catchTag("HostKeyUnknownError", (e) =>
          Effect.fail(
            autoAddIgnored
              ? new HostKeyUnknownError({
                message: `${e.message}; insecure_auto_add was not honoured: the operator has not enabled --allow-agent-insecure-auto-add`,
                hint: "ask the user to verify the fingerprint and add the key to known_hosts (ssh-keyscan), or to start the server with --allow-agent-insecure-auto-add",
                fingerprint: e.fingerprint
              })
              : e
          ))
      )
      if (request.groups !== undefined && request.groups.length > 0) {
        yield* registry.join(alias, request.groups).pipe(Effect.catchTag("HostNotFoundError", () => Effect.void))
      }
      return { ...info, isDefault: (yield* registry.defaultAlias) === alias, ignoredConfig: ignored }
    })

    const disconnect = Effect.fn("Hosts.disconnect")(function*(alias: string | undefined) {
      const host = yield* registry.resolve(alias)
      const wasConnected = (yield* connections.info(host.alias)) !== undefined
      const terminatedJobs = yield* jobs.terminateHost(host.alias)
      yield* tunnels.closeHost(host.alias)
      yield* connections.disconnect(host.alias)
      yield* registry.remove(host.alias)
      return { alias: host.alias, wasConnected, terminatedJobs }
    })

    const list = Effect.gen(function*() {
      const defaultAlias = yield* registry.defaultAlias
      const hosts = yield* registry.list
      const running = yield* jobs.runningCountByHost
      const groups = yield* registry.groups
      const groupsOf = (alias: string) => [...groups].filter(([, members]) => members.includes(alias)).map(([name]) => name)
      return yield* Effect.forEach(hosts, (h) =>
        Effect.map(connections.info(h.alias), (info): HostStatus => ({
          alias: h.alias,
          address: h.address,
          port: h.port,
          user: h.user,
          authMethod: authMethodOf(h.auth),
          passwordEnv: h.auth.passwordEnv,
          keyPath: h.auth.keyPath,
          connected: info !== undefined,
          activeJobs: running.get(h.alias) ?? 0,
          isDefault: h.alias === defaultAlias,
          source: h.source,
          groups: groupsOf(h.alias)
        })))
    })

    return Hosts.of({ connect, disconnect, list })
  }))
}
