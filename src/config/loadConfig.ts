/**
 * Startup configuration: flags over the TOML file over defaults. Every problem is a
 * one-line `ConfigError` naming the flag or the file and key.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Effect, Schema } from "effect"
import { type AppConfigShape, defaultConfig, LogLevel } from "../domain/config.js"
import type { ConfigError } from "../domain/errors.js"
import { type HostConfig, isEnvName } from "../domain/hosts.js"
import { flagName, type LimitKey, limitKeys, limitRange, limitSpecs, tomlKey } from "../domain/limits.js"
import { isLoopback } from "../loopback.js"
import { checkAlgorithms } from "./algorithms.js"
import { readConfigFile } from "./configFile.js"
import { fail } from "./fail.js"
import { readGroups } from "./groups.js"
import { defaultHttpMaxSessions, defaultHttpSessionIdleSec, helpText, minRemoteTokenLength } from "./help.js"
import { parseHostFlag } from "./hostFlag.js"
import { defaultConfigPath, expand } from "./paths.js"
import { readGroupPolicies, readPolicy } from "./policySection.js"

export { defaultHttpMaxSessions, defaultHttpSessionIdleSec, helpText, minRemoteTokenLength }

/** How MCP is served: stdio (default) or Streamable HTTP. */
export type Serve =
  | { readonly _tag: "Stdio" }
  | {
    readonly _tag: "Http"
    readonly port: number
    readonly bind: string
    /** Close a 2025-era session idle this long (no request in flight). */
    readonly sessionIdleSec: number
    /** Cap on 2025-era sessions. */
    readonly maxSessions: number
  }

export type Startup =
  | { readonly _tag: "Run"; readonly config: AppConfigShape; readonly configFile: string | undefined; readonly serve: Serve }
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Version" }

const isLogLevel = Schema.is(LogLevel)

const stringOptions = [
  "port", "bind", "http-session-idle-sec", "http-max-sessions",
  "user", "key", "password-env", "key-passphrase-env", "sudo-password-env", "default-host", "known-hosts",
  "log-dir", "audit-log", "log-level", "config", "record-dir", "view-port", ...limitKeys.map(flagName)
]

/** Parse argv (without node and the script), read the config file, and resolve the configuration. */
export const loadConfig = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Effect.Effect<Startup, ConfigError> =>
  Effect.gen(function*() {
    const home = env.HOME ?? "/"
    if (argv.some((a) => a === "--password" || a.startsWith("--password=") || a === "--passphrase" || a.startsWith("--passphrase="))) {
      return yield* fail("--password: passwords are not accepted on the command line", "use --password-env NAME with the password in that environment variable")
    }
    let parsed
    try {
      parsed = parseArgs({
        args: [...argv],
        strict: true,
        allowPositionals: false,
        options: {
          help: { type: "boolean", short: "h" },
          version: { type: "boolean", short: "V" },
          "insecure-auto-add": { type: "boolean" },
          "allow-agent-insecure-auto-add": { type: "boolean" },
          "allow-tunnel-bind-any": { type: "boolean" },
          "sudo-with-login-password": { type: "boolean" },
          http: { type: "boolean" },
          "allow-remote-bind": { type: "boolean" },
          host: { type: "string", multiple: true },
          "local-root": { type: "string", multiple: true },
          ...Object.fromEntries(stringOptions.map((o) => [o, { type: "string" as const }]))
        }
      })
    } catch (e) {
      return yield* fail((e as Error).message.split("\n")[0]!, "see mcp-ssh-live --help")
    }
    const v = parsed.values as Record<string, string | boolean | Array<string> | undefined>
    const str = (name: string) => v[name] as string | undefined
    if (v.help === true) return { _tag: "Help", text: helpText } as const
    if (v.version === true) return { _tag: "Version" } as const

    const configPath = str("config") !== undefined ? expand(str("config")!, home) : defaultConfigPath(env, home)
    const file = yield* readConfigFile(configPath, str("config") !== undefined)
    const fileName = path.basename(configPath)
    const base = defaultConfig()

    // Hosts: the file's, then the flags' (same alias: the flag wins).
    const hosts = new Map<string, HostConfig>()
    const policy = yield* readPolicy(file?.policy, "policy", path.basename(configPath))
    for (const [alias, h] of Object.entries(file?.hosts ?? {})) {
      const hostPolicy = yield* readPolicy(h.policy, `hosts.${alias}.policy`, path.basename(configPath))
      hosts.set(alias, {
        alias,
        host: h.host,
        port: h.port ?? 22,
        ...(h.user !== undefined ? { user: h.user } : {}),
        ...(h.password_env !== undefined ? { passwordEnv: h.password_env } : {}),
        ...(h.key !== undefined ? { key: expand(h.key, home) } : {}),
        ...(h.key_passphrase_env !== undefined ? { keyPassphraseEnv: h.key_passphrase_env } : {}),
        ...(h.sudo_password_env !== undefined ? { sudoPasswordEnv: h.sudo_password_env } : {}),
        ...(h.sudo_with_login_password !== undefined ? { sudoWithLoginPassword: h.sudo_with_login_password } : {}),
        ...(h.proxy_command !== undefined ? { proxyCommand: h.proxy_command } : {}),
        ...(hostPolicy !== undefined ? { policy: hostPolicy } : {}),
        source: "config-file"
      })
    }
    for (const flag of ["password-env", "key-passphrase-env", "sudo-password-env"]) {
      const name = str(flag)
      if (name !== undefined && !isEnvName(name)) return yield* fail(`--${flag}: "${name}" is not an environment variable name`)
    }
    for (const h of (v.host as Array<string> | undefined) ?? []) {
      const spec = parseHostFlag(h)
      if (spec === undefined) return yield* fail(`--host: expected alias=addr[:port], got "${h}"`)
      // The flag replaces the file's definition of the alias, never its policy.
      const filePolicy = hosts.get(spec.alias)?.policy
      hosts.set(spec.alias, {
        ...spec,
        ...(str("user") !== undefined ? { user: str("user")! } : {}),
        ...(str("key") !== undefined ? { key: expand(str("key")!, home) } : {}),
        ...(str("password-env") !== undefined ? { passwordEnv: str("password-env")! } : {}),
        ...(str("key-passphrase-env") !== undefined ? { keyPassphraseEnv: str("key-passphrase-env")! } : {}),
        ...(str("sudo-password-env") !== undefined ? { sudoPasswordEnv: str("sudo-password-env")! } : {}),
        ...(filePolicy !== undefined ? { policy: filePolicy } : {}),
        source: "cli"
      })
    }
    // Every secret a host names must be there now, and every key file readable.
    for (const h of hosts.values()) {
      const where = h.source === "cli" ? "--" : `${fileName}: hosts.${h.alias}.`
      for (const [key, flag, name] of [
        ["password_env", "password-env", h.passwordEnv],
        ["key_passphrase_env", "key-passphrase-env", h.keyPassphraseEnv],
        ["sudo_password_env", "sudo-password-env", h.sudoPasswordEnv]
      ] as const) {
        if (name !== undefined && env[name] === undefined) {
          return yield* fail(`${where}${h.source === "cli" ? flag : key}: environment variable ${name} is not set`)
        }
      }
      if (h.key !== undefined && !fs.existsSync(h.key)) {
        return yield* fail(`${where}key: no such file: ${h.key}`)
      }
    }

    // Each limit: the file's [limits] key (already range-checked by its schema), then its flag.
    const limits: Partial<Record<LimitKey, number>> = {}
    for (const key of limitKeys) {
      const fromFile = file?.limits?.[tomlKey(key)]
      if (fromFile !== undefined) limits[key] = fromFile
      const flag = flagName(key)
      const raw = str(flag)
      if (raw === undefined) continue
      const spec = limitSpecs[key]
      const n = Number(raw)
      const ok = raw.trim() !== "" && Number.isFinite(n) && (!spec.integer || Number.isInteger(n)) &&
        n >= spec.minimum && n <= spec.maximum
      if (!ok) return yield* fail(`--${flag}: expected ${limitRange(spec)}, got "${raw}"`)
      limits[key] = n
    }

    const logLevelText = str("log-level") ?? file?.server?.log_level
    if (logLevelText !== undefined && !isLogLevel(logLevelText)) {
      return yield* fail(`--log-level: expected one of ${LogLevel.literals.join(", ")}, got "${logLevelText}"`)
    }
    const logLevel = logLevelText
    const defaultHost = str("default-host") ?? file?.default_host
    if (defaultHost !== undefined && !hosts.has(defaultHost)) {
      return yield* fail(
        str("default-host") !== undefined
          ? `--default-host: no host with alias "${defaultHost}"`
          : `${fileName}: default_host: no host with alias "${defaultHost}"`
      )
    }
    const groups = yield* readGroups(file?.groups, hosts, fileName)
    const groupPolicies = yield* readGroupPolicies(file?.group_policy, groups, fileName)
    const algorithms = yield* checkAlgorithms(file?.server?.algorithms, fileName)
    const knownHosts = str("known-hosts") ?? file?.server?.known_hosts
    const logDir = str("log-dir") ?? file?.server?.log_dir
    const auditLog = str("audit-log") ?? file?.server?.audit_log
    // The flags' roots replace the file's; each must be absolute (after ~).
    const rootFlags = v["local-root"] as Array<string> | undefined
    const localRoots = rootFlags !== undefined && rootFlags.length > 0 ? rootFlags : file?.server?.local_roots
    for (const r of localRoots ?? []) {
      if (!path.isAbsolute(expand(r, home))) {
        return yield* fail(`${rootFlags !== undefined ? "--local-root" : `${fileName}: server.local_roots`}: "${r}" is not an absolute path`)
      }
    }
    const recordDir = str("record-dir") ?? file?.server?.record_dir
    const viewPortText = str("view-port")
    const viewPort = viewPortText !== undefined ? Number(viewPortText) : file?.server?.view_port
    if (viewPort !== undefined && (!Number.isInteger(viewPort) || viewPort < 0 || viewPort > 65535)) {
      return yield* fail(`--view-port: expected 0..65535, got "${viewPortText}"`)
    }
    const config: AppConfigShape = {
      ...base,
      limits: { ...base.limits, ...limits },
      hosts: [...hosts.values()],
      ...(defaultHost !== undefined ? { defaultHost } : {}),
      ...(Object.keys(groups).length > 0 ? { groups } : {}),
      insecureAutoAdd: v["insecure-auto-add"] === true || file?.server?.insecure_auto_add === true,
      allowAgentInsecureAutoAdd: v["allow-agent-insecure-auto-add"] === true || file?.server?.allow_agent_insecure_auto_add === true,
      allowTunnelBindAny: v["allow-tunnel-bind-any"] === true || file?.server?.allow_tunnel_bind_any === true,
      ...(v["sudo-with-login-password"] === true || file?.server?.sudo_with_login_password === true ? { sudoWithLoginPassword: true } : {}),
      ...(algorithms !== undefined ? { algorithms } : {}),
      knownHostsPath: knownHosts !== undefined ? expand(knownHosts, home) : path.join(home, ".ssh", "known_hosts"),
      sshConfigPath: path.join(home, ".ssh", "config"),
      ...(logDir !== undefined ? { logDir: expand(logDir, home) } : {}),
      ...(auditLog !== undefined ? { auditLog: expand(auditLog, home) } : {}),
      ...(localRoots !== undefined ? { localRoots: localRoots.map((r) => expand(r, home)) } : {}),
      configPath,
      ...(recordDir !== undefined ? { recordDir: expand(recordDir, home) } : {}),
      ...(viewPort !== undefined ? { viewPort } : {}),
      logLevel: logLevel ?? base.logLevel,
      ...(policy !== undefined ? { policy } : {}),
      ...(Object.keys(groupPolicies).length > 0 ? { groupPolicies } : {})
    }
    const portText = str("port")
    const port = portText === undefined ? 8765 : Number(portText)
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* fail(`--port: expected 0..65535, got "${portText}"`)
    const httpOnly = ["port", "bind", "allow-remote-bind", "http-session-idle-sec", "http-max-sessions"].filter((f) => v[f] !== undefined)
    if (v.http !== true && httpOnly.length > 0) return yield* fail(`--${httpOnly[0]} applies to --http only`)
    const httpInt = (flag: "http-session-idle-sec" | "http-max-sessions", key: "http_session_idle_sec" | "http_max_sessions", fallback: number) => {
      const raw = str(flag)
      if (raw === undefined) return Effect.succeed(file?.server?.[key] ?? fallback)
      const n = Number(raw)
      return Number.isSafeInteger(n) && n >= 1 ? Effect.succeed(n) : fail(`--${flag}: expected a positive integer, got "${raw}"`)
    }
    const sessionIdleSec = yield* httpInt("http-session-idle-sec", "http_session_idle_sec", defaultHttpSessionIdleSec)
    const maxSessions = yield* httpInt("http-max-sessions", "http_max_sessions", defaultHttpMaxSessions)
    const bind = str("bind") ?? "127.0.0.1"
    if (v.http === true && !isLoopback(bind)) {
      if (v["allow-remote-bind"] !== true) {
        return yield* fail(
          `--bind ${bind}: not a loopback address; serving beyond this machine needs --allow-remote-bind`,
          "plain HTTP exposes the bearer token on the network: prefer an SSH tunnel or a TLS proxy to 127.0.0.1"
        )
      }
      if ((env.MCP_SSH_LIVE_TOKEN ?? "").length < minRemoteTokenLength) {
        return yield* fail(`--allow-remote-bind: set MCP_SSH_LIVE_TOKEN to a token of at least ${minRemoteTokenLength} characters`)
      }
    }
    const serve: Serve = v.http === true ? { _tag: "Http", port, bind, sessionIdleSec, maxSessions } : { _tag: "Stdio" }
    return { _tag: "Run", config, configFile: file === undefined ? undefined : configPath, serve } as const
  })
