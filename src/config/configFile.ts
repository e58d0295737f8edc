/**
 * The TOML configuration file: its Schema (unknown keys are errors) and reading it
 * into one-line errors that name the file and the key.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { parse, TomlError } from "smol-toml"
import { LogLevel } from "../domain/config.js"
import { ConfigError } from "../domain/errors.js"
import { Alias, EnvName } from "../domain/hosts.js"
import { LimitsSection } from "../domain/limits.js"

const positive = (max: number) => Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: max }))
const Text = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096))

const Patterns = Schema.Array(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096)))

/** `[policy]` and `[hosts.<alias>.policy]` (src/domain/policyRules.ts). */
export const PolicySection = Schema.Struct({
  read_only: Schema.optionalKey(Schema.Boolean),
  allow: Schema.optionalKey(Patterns),
  deny: Schema.optionalKey(Patterns),
  confirm: Schema.optionalKey(Patterns),
  upload_allow: Schema.optionalKey(Patterns),
  upload_deny: Schema.optionalKey(Patterns),
  tunnels: Schema.optionalKey(Schema.Boolean),
  interactive_keys: Schema.optionalKey(Schema.Boolean)
})

export const HostSection = Schema.Struct({
  host: Text,
  port: Schema.optionalKey(positive(65535)),
  user: Schema.optionalKey(Text),
  password_env: Schema.optionalKey(EnvName),
  key: Schema.optionalKey(Text),
  key_passphrase_env: Schema.optionalKey(EnvName),
  sudo_password_env: Schema.optionalKey(EnvName),
  sudo_with_login_password: Schema.optionalKey(Schema.Boolean),
  proxy_command: Schema.optionalKey(Text),
  policy: Schema.optionalKey(PolicySection)
})

const AlgorithmList = Schema.Array(Text).check(Schema.isMinLength(1))

/** Transport algorithm lists replacing our defaults (for legacy servers); names are checked against ssh2's. */
export const AlgorithmsSection = Schema.Struct({
  kex: Schema.optionalKey(AlgorithmList),
  cipher: Schema.optionalKey(AlgorithmList),
  hmac: Schema.optionalKey(AlgorithmList),
  server_host_key: Schema.optionalKey(AlgorithmList)
})

export const ServerSection = Schema.Struct({
  insecure_auto_add: Schema.optionalKey(Schema.Boolean),
  allow_agent_insecure_auto_add: Schema.optionalKey(Schema.Boolean),
  allow_tunnel_bind_any: Schema.optionalKey(Schema.Boolean),
  sudo_with_login_password: Schema.optionalKey(Schema.Boolean),
  algorithms: Schema.optionalKey(AlgorithmsSection),
  known_hosts: Schema.optionalKey(Text),
  log_dir: Schema.optionalKey(Text),
  audit_log: Schema.optionalKey(Text),
  local_roots: Schema.optionalKey(Schema.Array(Text)),
  record_dir: Schema.optionalKey(Text),
  view_port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))),
  log_level: Schema.optionalKey(LogLevel),
  http_session_idle_sec: Schema.optionalKey(positive(30 * 86_400)),
  http_max_sessions: Schema.optionalKey(positive(100_000))
})

export const ConfigFile = Schema.Struct({
  default_host: Schema.optionalKey(Text),
  hosts: Schema.optionalKey(Schema.Record(Alias, HostSection)),
  /** `web = ["web1", "web2"]`: group names (alias syntax) to host aliases, for ssh_exec_many. */
  groups: Schema.optionalKey(Schema.Record(Alias, Schema.Array(Alias).check(Schema.isMinLength(1)))),
  limits: Schema.optionalKey(LimitsSection),
  server: Schema.optionalKey(ServerSection),
  policy: Schema.optionalKey(PolicySection),
  /** `[group_policy.<group>]`: rules for the hosts of a `[groups]` group. */
  group_policy: Schema.optionalKey(Schema.Record(Alias, PolicySection))
})
export type ConfigFile = typeof ConfigFile.Type

const validator = Schema.toStandardSchemaV1(ConfigFile, { parseOptions: { onExcessProperty: "error", errors: "all" } })

/** Where a secret must not be: a key named like a password, anywhere in the file. */
const findPasswordKey = (value: unknown, at: Array<string>): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  for (const [k, v] of Object.entries(value)) {
    if (/^(password|passphrase|key_passphrase|sudo_password)$/.test(k)) return [...at, k].join(".")
    const inner = findPasswordKey(v, [...at, k])
    if (inner !== undefined) return inner
  }
  return undefined
}

const keyPath = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined) =>
  (path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/** Read and decode the file; undefined when it does not exist and `required` is false. */
export const readConfigFile = (file: string, required: boolean): Effect.Effect<ConfigFile | undefined, ConfigError> =>
  Effect.gen(function*() {
    const name = file
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === "ENOENT" && !required) return undefined
      return yield* new ConfigError({ message: `${name}: cannot read the config file (${code ?? String(e)})` })
    }
    let value: unknown
    try {
      value = parse(text)
    } catch (e) {
      const where = e instanceof TomlError ? ` line ${e.line}, column ${e.column}` : ""
      const what = (e as Error).message.split("\n")[0]!.replace(/^Invalid TOML document: /, "")
      return yield* new ConfigError({ message: `${name}:${where}: malformed TOML: ${what}` })
    }
    const secret = findPasswordKey(value, [])
    if (secret !== undefined) {
      return yield* new ConfigError({
        message: `${name}: ${secret}: secrets are not accepted in the config file`,
        hint: "name an environment variable instead: password_env, key_passphrase_env, sudo_password_env"
      })
    }
    const result = validator["~standard"].validate(value)
    if (result instanceof Promise) return yield* Effect.die("config validation is synchronous")
    if (result.issues !== undefined) {
      const issue = result.issues[0]!
      const key = keyPath(issue.path)
      return yield* new ConfigError({
        message: `${name}: ${key === "" ? "" : `${key}: `}${issue.message}` +
          (result.issues.length > 1 ? ` (and ${result.issues.length - 1} more)` : "")
      })
    }
    return result.value
  })
