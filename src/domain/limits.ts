/**
 * Every numeric limit, written once: its key, whether it is an integer, its range, its
 * default and what it means. The `Limits` schema, the TOML `[limits]` section, the
 * command-line flags, the `--help` lines and the table in docs/CONFIG.md are all derived
 * from `limitSpecs`, so a limit added here is settable everywhere.
 *
 * This module imports nothing but `effect` (scripts/limits-doc.ts loads it directly).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export interface LimitSpec {
  readonly integer: boolean
  readonly minimum: number
  readonly maximum: number
  readonly default: number
  /** One line, for `--help` and docs/CONFIG.md. */
  readonly description: string
}

const spec = (integer: boolean, minimum: number, maximum: number, dflt: number, description: string): LimitSpec =>
  ({ integer, minimum, maximum, default: dflt, description })

/** The limits in the order `--help` and the docs list them; keys are camelCase. */
export const limitSpecs = {
  ringBufferLines: spec(true, 1, 10_000_000, 10_000, "lines kept per job stream; the oldest are evicted"),
  ringBufferBytes: spec(true, 1, 1 << 30, 8 * 1024 * 1024, "bytes of line text kept per job stream"),
  maxJobsPerHost: spec(true, 1, 10_000, 50, "running jobs per host"),
  maxJobs: spec(true, 1, 1_000_000, 1000, "jobs held in memory, running or finished, all hosts"),
  reapFinishedAfterSec: spec(true, 1, 30 * 86_400, 600, "forget finished jobs after N seconds"),
  reconnectRetries: spec(true, 0, 100, 3, "reconnect attempts"),
  reconnectDelaySec: spec(false, 0, 3600, 2, "first reconnect delay, doubled each try"),
  maxLineBytes: spec(true, 1, 64 << 20, 64 * 1024, "longer lines are cut with a marker"),
  maxOutputBytes: spec(true, 1, 1 << 30, 256 * 1024, "ssh_exec output kept per stream"),
  maxExecManyOutputBytes: spec(true, 1, 1 << 30, 1024 * 1024, "ssh_exec_many output kept for the whole call (all hosts, both streams)"),
  killGraceMs: spec(true, 0, 600_000, 5_000, "grace between TERM and KILL when a command is stopped"),
  connectTimeoutMs: spec(true, 1, 600_000, 20_000, "time allowed for TCP connect and SSH handshake"),
  keepaliveIntervalMs: spec(true, 0, 3_600_000, 15_000, "SSH keepalive interval (0: none)"),
  extraConnectionIdleSec: spec(true, 1, 86_400, 60, "close a connection opened past MaxSessions after N s without a channel"),
  maxHosts: spec(true, 1, 100_000, 256, "hosts registered at most"),
  maxTunnelsPerHost: spec(true, 1, 10_000, 20, "tunnels open per host"),
  maxTunnelConnections: spec(true, 1, 100_000, 64, "connections open at once through one tunnel; more are closed at once"),
  httpMaxConnections: spec(true, 1, 100_000, 256, "connections to the --http endpoint open at once; more are closed at once"),
  taskAfterMs: spec(true, 0, 3_600_000, 10_000, "a long tool call still running after N ms becomes an MCP task (clients with the Tasks extension)"),
  maxListingBytes: spec(true, 64 * 1024, 256 * 1024 * 1024, 64 * 1024 * 1024,
    "bytes a host's file or job listing may print (a directory transfer's tree, a persistent-job scan); more is REMOTE_OUTPUT_TOO_LARGE")
} as const satisfies Record<string, LimitSpec>

export type LimitKey = keyof typeof limitSpecs

/** The keys, in order. */
export const limitKeys: ReadonlyArray<LimitKey> = Object.keys(limitSpecs).filter((k): k is LimitKey => k in limitSpecs)

const mapLimits = <A>(f: (spec: LimitSpec, key: LimitKey) => A): { readonly [K in LimitKey]: A } => {
  const out = {} as { [K in LimitKey]: A }
  for (const key of limitKeys) out[key] = f(limitSpecs[key], key)
  return out
}

/** The schema of one limit's value (integer or finite, within its range). */
export const limitValue = (s: LimitSpec): Schema.Number =>
  (s.integer ? Schema.Int : Schema.Finite).check(Schema.isBetween({ minimum: s.minimum, maximum: s.maximum }))

/** Numeric limits, every one with a default, settable in `[limits]` and by flag. */
export const Limits = Schema.Struct(mapLimits(limitValue))
export type Limits = typeof Limits.Type

export const defaultLimits: Limits = mapLimits((s) => s.default)

/** `ringBufferLines` → `ring_buffer_lines`: the key in the TOML `[limits]` section. */
export const tomlKey = (key: LimitKey): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** `ringBufferLines` → `ring-buffer-lines`: the flag, without its `--`. */
export const flagName = (key: LimitKey): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** The TOML `[limits]` section: snake_case keys, each optional. */
export const LimitsSection = Schema.Struct(
  Object.fromEntries(limitKeys.map((key) => [tomlKey(key), Schema.optionalKey(limitValue(limitSpecs[key]))]))
)

/** What a limit accepts, in words: "a positive integer up to 100", "a number from 0 to 3600". */
export const limitRange = (s: LimitSpec): string =>
  s.integer
    ? `${s.minimum === 1 ? "a positive integer" : `an integer from ${s.minimum}`} up to ${s.maximum}`
    : `a number from ${s.minimum} to ${s.maximum}`

/** The `--help` lines of the limits (a long flag puts its description on the next line). */
export const limitHelpLines = (): string =>
  limitKeys.map((key) => {
    const s = limitSpecs[key]
    const flag = `  --${flagName(key)} ${s.integer ? "N" : "X"}`
    const text = `${s.description} (default: ${s.default})`
    return flag.length <= 30 ? `${flag.padEnd(31)}${text}` : `${flag}\n${" ".repeat(31)}${text}`
  }).join("\n")

/** The Markdown table of docs/CONFIG.md. */
export const limitTable = (): string =>
  [
    "| flag | `[limits]` key | accepts | default | meaning |",
    "|---|---|---|---|---|",
    ...limitKeys.map((key) => {
      const s = limitSpecs[key]
      return `| \`--${flagName(key)} ${s.integer ? "N" : "X"}\` | \`${tomlKey(key)}\` | ${s.integer ? "integer" : "number"} ${s.minimum}–${s.maximum} | ${s.default} | ${s.description} |`
    })
  ].join("\n")
