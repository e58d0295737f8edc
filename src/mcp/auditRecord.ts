/**
 * The audit log's record of one tool call (`--audit-log`): built from the call's arguments
 * and its result alone, by field name, so that a new tool is covered with no code of its
 * own. Secrets are redacted by name: a field named like a credential (password,
 * passphrase, secret, token, private key …) or holding a `Redacted` value becomes
 * `"[redacted]"`; `env` keeps its names and hides its values; `stdin` and `data` (what is
 * written to a command's stdin: often a password typed at a prompt, marked secret or not)
 * are logged as a byte count. The command text is logged as given, except for the values
 * of shell assignments and `--option=value` words whose name says password, secret,
 * token or key (a courtesy, not a guarantee: `mysql -pSECRET` is logged as is).
 *
 * A call refused by input validation is recorded apart (`invalidInputRecord`): its
 * arguments did not decode, so no field name can be trusted to say which value is a
 * secret; only the names of the fields at fault are kept, never a value.
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"

export const REDACTED = "[redacted]"

/** Field names whose values are credentials (booleans stay: `secret: true` is a flag, not a secret). */
const SECRET_NAME = /pass(word|wd|phrase)?|secret|token|credential|private|api[_-]?key|^key$|^auth$/i
/** Written to a remote stdin: only its size is logged. */
const SIZE_ONLY = new Set(["stdin", "data"])
/** Maps whose names are kept and values hidden. */
const VALUES_HIDDEN = new Set(["env"])
/** Arguments lifted to the record's top level. */
const LIFTED = new Set(["host", "hosts", "group", "command", "local_path", "remote_path", "job_id", "tunnel_id"])

/** What a tool call returned, as far as the record needs it (a `CallToolResult` or an `input_required` result). */
export interface CallResult {
  readonly isError?: boolean | undefined
  readonly content?: ReadonlyArray<{ readonly type: string; readonly text?: string }> | undefined
  readonly structuredContent?: unknown
  readonly resultType?: string | undefined
}

export interface CallFacts {
  /** When the call started. */
  readonly time: Date
  /** The MCP session (HTTP session id, the process's id on stdio), null when there is none. */
  readonly session: string | null
  readonly tool: string
  /** The decoded arguments. */
  readonly args: unknown
  /** The default host's alias (null: none) when the tool takes a host and the call named none. */
  readonly defaultHost?: string | null
  readonly result: CallResult
  readonly durationMs: number
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const SECRET_ASSIGNMENT =
  /(^|[\s;&|(`'"])((?:--?)?[A-Za-z0-9_-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|credential)[A-Za-z0-9_-]*=)('[^']*'|"(?:[^"\\]|\\.)*"|[^\s;&|)`'"]*)/gi

/** The command with the values of secret-looking assignments (`DB_PASSWORD=…`, `--token=…`) replaced. */
export const maskCommand = (command: string): string =>
  command.replace(SECRET_ASSIGNMENT, (_m, lead: string, name: string) => `${lead}${name}${REDACTED}`)

/** A value with every secret-named field (and `Redacted` value) hidden, recursively. */
const redactValue = (name: string, value: unknown): unknown => {
  if (Redacted.isRedacted(value)) return REDACTED
  if (SECRET_NAME.test(name) && typeof value !== "boolean") return REDACTED
  if (VALUES_HIDDEN.has(name) && isRecord(value)) return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]))
  if (Array.isArray(value)) return value.map((v) => redactValue("", v))
  if (isRecord(value)) return redactFields(value)
  return value
}

/** Every field of `args` with secrets hidden and stdin-like data reduced to its size (`data` → `data_bytes`). */
export const redactFields = (args: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue
    if (SIZE_ONLY.has(k)) out[`${k}_bytes`] = typeof v === "string" ? Buffer.byteLength(v) : REDACTED
    else out[k] = redactValue(k, v)
  }
  return out
}

/** "ok", the error's code, "cancelled", or "input_required" (a 2026-07-28 round that asks the user). */
export const outcomeOf = (result: CallResult): string => {
  if (result.resultType === "input_required") return "input_required"
  if (result.isError !== true) return "ok"
  const text = result.content?.find((c) => c.type === "text")?.text ?? ""
  const code = /^([A-Z][A-Z0-9_]+): /.exec(text)?.[1] ?? "ERROR"
  return code === "CANCELLED" ? "cancelled" : code
}

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

/** Per-host results of a fan-out tool (`ssh_exec_many`): host, exit status, error code. */
const hostResults = (results: unknown): Array<Record<string, unknown>> | undefined => {
  if (!Array.isArray(results)) return undefined
  const rows = results.filter(isRecord).filter((r) => typeof r.host === "string")
  if (rows.length === 0) return undefined
  return rows.map((r) => {
    const error = isRecord(r.error) ? str(r.error.code) ?? "ERROR" : str(r.error)
    return {
      host: r.host,
      ...("exit_status" in r ? { exit_status: r.exit_status } : {}),
      ...(error !== undefined ? { error } : {})
    }
  })
}

/** The host(s) of the call: what the result names, else what the call named, else the default host. */
const targets = (args: Record<string, unknown>, out: Record<string, unknown>, defaultHost: string | null | undefined) => {
  if (Array.isArray(args.hosts) || args.group !== undefined) {
    const fromResults = hostResults(out.results)?.map((r) => r.host)
    return {
      hosts: Array.isArray(args.hosts) ? args.hosts : fromResults ?? null,
      ...(args.group !== undefined ? { group: args.group } : {})
    }
  }
  const host = str(out.alias) ?? str(out.host) ?? str(args.alias) ?? str(args.host) ?? defaultHost
  return host === undefined ? {} : { host }
}

/** The record of one tool call, ready for `JSON.stringify`. */
export const auditRecord = (facts: CallFacts): Record<string, unknown> => {
  const args = isRecord(facts.args) ? facts.args : {}
  const structured = facts.result.structuredContent
  const out = facts.result.isError !== true && isRecord(structured) ? structured : {}
  const rest = redactFields(Object.fromEntries(Object.entries(args).filter(([k]) => !LIFTED.has(k))))
  const command = str(args.command)
  const jobId = str(args.job_id) ?? str(out.job_id)
  const tunnelId = str(args.tunnel_id) ?? str(out.tunnel_id)
  const results = hostResults(out.results)
  const result: Record<string, unknown> = {}
  for (const k of ["bytes", "bind_address", "bind_port", "ok", "failed"]) if (out[k] !== undefined) result[k] = out[k]
  if (results !== undefined) result.results = results
  return {
    time: facts.time.toISOString(),
    session: facts.session,
    tool: facts.tool,
    ...targets(args, out, facts.defaultHost),
    ...(command !== undefined ? { command: maskCommand(command) } : {}),
    ...(args.local_path !== undefined || args.remote_path !== undefined
      ? { paths: { local: args.local_path ?? null, remote: args.remote_path ?? null } }
      : {}),
    ...(jobId !== undefined ? { job_id: jobId } : {}),
    ...(tunnelId !== undefined ? { tunnel_id: tunnelId } : {}),
    ...(Object.keys(rest).length > 0 ? { args: rest } : {}),
    outcome: outcomeOf(facts.result),
    ...("exit_status" in out ? { exit_status: out.exit_status } : {}),
    ...(typeof out.signal === "string" ? { signal: out.signal } : {}),
    ...(Object.keys(result).length > 0 ? { result } : {}),
    duration_ms: facts.durationMs
  }
}

/** At most this many field names, each cut to this length, in the record of a refused call. */
const MAX_FIELDS = 16
const MAX_FIELD_NAME = 64

/** The names of the fields an input validation refused, for the record: unique, in order, bounded. */
export const invalidFields = (paths: ReadonlyArray<ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined>): Array<string> => {
  const out: Array<string> = []
  for (const p of paths) {
    const head = p?.[0]
    if (head === undefined) continue
    const name = String(typeof head === "object" ? head.key : head).slice(0, MAX_FIELD_NAME)
    if (!out.includes(name)) out.push(name)
    if (out.length === MAX_FIELDS) break
  }
  return out
}

/** The record of a call refused by input validation: the tool, the fields named, no value. */
export const invalidInputRecord = (facts: {
  readonly time: Date
  readonly session: string | null
  readonly tool: string
  readonly fields: ReadonlyArray<string>
  readonly durationMs: number
}): Record<string, unknown> => ({
  time: facts.time.toISOString(),
  session: facts.session,
  tool: facts.tool,
  outcome: "INVALID_ARGUMENT",
  fields: facts.fields,
  duration_ms: facts.durationMs
})
