/**
 * Startup configuration: command-line flags over defaults.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { type AppConfigShape, defaultConfig, type HostConfig, type LogLevel } from "../services/AppConfig.js"
import { ConfigError } from "../services/errors.js"

export type Startup =
  | { readonly _tag: "Run"; readonly config: AppConfigShape; readonly configFile: string | undefined }
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Version" }

const LOG_LEVELS: ReadonlyArray<LogLevel> = ["trace", "debug", "info", "warn", "error", "none"]

export const helpText = `Usage: mcp-ssh-live [flags]

An MCP server (stdio) giving LLM agents live, streaming SSH.
With no flags it starts with no hosts; agents add them with ssh_connect.

Flags:
  --host alias=addr[:port]   pre-configure a host (repeatable)
  --user NAME                remote user for --host entries (default: local user)
  --password-env NAME        environment variable holding the password for --host entries
  --key PATH                 private key for --host entries
  --key-passphrase-env NAME  environment variable holding the key's passphrase
  --sudo-password-env NAME   environment variable holding the sudo password (for sudo: true)
  --default-host ALIAS       host used when a tool is given none
  --insecure-auto-add        accept and record unknown host keys (changed keys are always refused)
  --known-hosts PATH         known_hosts file (default: ~/.ssh/known_hosts)
  --log-dir DIR              append every job line to DIR/<job_id>.log
  --log-level LEVEL          trace, debug, info, warn, error, none (default: info)
  -h, --help                 show this help
  -V, --version              show the version

Logs go to stderr; stdout carries only MCP messages.
`

const fail = (message: string, hint?: string) =>
  Effect.fail(new ConfigError(hint === undefined ? { message } : { message, hint }))

const expand = (p: string, home: string) => (p === "~" || p.startsWith("~/") ? path.join(home, p.slice(1)) : p)

/** Parse `alias=addr[:port]` (IPv6 as `alias=[::1]:2222`). */
const parseHostFlag = (value: string): { alias: string; host: string; port: number } | undefined => {
  const m = /^([A-Za-z0-9_.-]+)=(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(value)
  if (m === null) return undefined
  const port = m[4] === undefined ? 22 : Number(m[4])
  if (port < 1 || port > 65535) return undefined
  return { alias: m[1]!, host: (m[2] ?? m[3])!, port }
}

/** Parse argv (without node and the script) into what to do. */
export const loadConfig = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Effect.Effect<Startup, ConfigError> =>
  Effect.gen(function*() {
    const home = env.HOME ?? os.homedir()
    let parsed
    try {
      parsed = parseArgs({
        args: [...argv],
        strict: true,
        allowPositionals: false,
        options: {
          help: { type: "boolean", short: "h" },
          version: { type: "boolean", short: "V" },
          host: { type: "string", multiple: true },
          user: { type: "string" },
          key: { type: "string" },
          "password-env": { type: "string" },
          "key-passphrase-env": { type: "string" },
          "sudo-password-env": { type: "string" },
          "default-host": { type: "string" },
          "insecure-auto-add": { type: "boolean" },
          "known-hosts": { type: "string" },
          "log-dir": { type: "string" },
          "log-level": { type: "string" }
        }
      })
    } catch (e) {
      return yield* fail((e as Error).message.split("\n")[0]!, "see mcp-ssh-live --help")
    }
    const v = parsed.values
    if (v.help === true) return { _tag: "Help", text: helpText } as const
    if (v.version === true) return { _tag: "Version" } as const
    const base = defaultConfig()
    const hosts: Array<HostConfig> = []
    for (const h of v.host ?? []) {
      const spec = parseHostFlag(h)
      if (spec === undefined) return yield* fail(`--host: expected alias=addr[:port], got "${h}"`)
      hosts.push({
        ...spec,
        ...(v.user !== undefined ? { user: v.user } : {}),
        ...(v.key !== undefined ? { key: expand(v.key, home) } : {}),
        ...(v["password-env"] !== undefined ? { passwordEnv: v["password-env"] } : {}),
        ...(v["key-passphrase-env"] !== undefined ? { keyPassphraseEnv: v["key-passphrase-env"] } : {}),
        ...(v["sudo-password-env"] !== undefined ? { sudoPasswordEnv: v["sudo-password-env"] } : {}),
        source: "cli"
      })
    }
    for (const flag of ["password-env", "key-passphrase-env", "sudo-password-env"] as const) {
      const name = v[flag]
      if (name === undefined) continue
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return yield* fail(`--${flag}: "${name}" is not an environment variable name`)
      if (env[name] === undefined) return yield* fail(`--${flag}: environment variable ${name} is not set`)
    }
    const logLevel = v["log-level"]
    if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel)) {
      return yield* fail(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`)
    }
    const defaultHost = v["default-host"]
    if (defaultHost !== undefined && !hosts.some((h) => h.alias === defaultHost)) {
      return yield* fail(`--default-host: no host with alias "${defaultHost}"`)
    }
    const config: AppConfigShape = {
      ...base,
      hosts,
      ...(defaultHost !== undefined ? { defaultHost } : {}),
      insecureAutoAdd: v["insecure-auto-add"] === true,
      knownHostsPath: v["known-hosts"] !== undefined ? expand(v["known-hosts"], home) : path.join(home, ".ssh", "known_hosts"),
      ...(v["log-dir"] !== undefined ? { logDir: expand(v["log-dir"], home) } : {}),
      logLevel: (logLevel as LogLevel | undefined) ?? base.logLevel
    }
    return { _tag: "Run", config, configFile: undefined } as const
  })
