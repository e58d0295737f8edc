/**
 * The audit log (`--audit-log FILE`, `[server] audit_log`): one JSON line per MCP tool
 * call (the record: auditRecord.ts), appended to FILE, which is created 0600 and kept
 * so (an existing file open to other users is narrowed, with a warning). Each write
 * reopens the path (a rotated file is recreated; never through a symlink; anything but a
 * regular file is refused) and hands the kernel whole lines in one append before the
 * call's result is returned; writes are serialized, so lines of concurrent calls never
 * interleave.
 *
 * Fail-closed: a file that cannot be opened at start stops the server. When a record
 * cannot be written later, the call it describes still returns its real result (it has
 * run), the record is kept in memory, and every following call is refused with
 * `AUDIT_LOG_FAILED` before it runs, until the kept records can be written (retried at
 * each call): nothing runs unrecorded for more than the calls already in flight.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { Context, Effect, Layer, Semaphore } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { AuditLogError, ConfigError } from "../domain/errors.js"
import { HostRegistry } from "../services/HostRegistry.js"
import { auditRecord, type CallFacts, type CallResult, invalidInputRecord } from "./auditRecord.js"

const { O_APPEND, O_CREAT, O_WRONLY } = fs.constants
// No symlink; a FIFO without a reader fails at once instead of blocking.
const FLAGS = O_WRONLY | O_APPEND | O_CREAT | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

/** Records kept in memory while the file cannot be written, at most this many bytes (the rest go to stderr). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024

/** Open `file` for appending: created 0600; a looser existing file narrowed (the message says so); a non-file refused. */
export const openAuditFile = async (file: string): Promise<{ readonly handle: fs.promises.FileHandle; readonly narrowed?: string }> => {
  const handle = await fs.promises.open(file, FLAGS, 0o600)
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw new Error("not a regular file")
    if ((st.mode & 0o077) === 0) return { handle }
    await handle.chmod(0o600)
    return { handle, narrowed: `${file} was open to other users (mode 0${(st.mode & 0o777).toString(8)}): narrowed to 0600` }
  } catch (e) {
    await handle.close()
    throw e
  }
}

const appendText = async (file: string, text: string): Promise<string | undefined> => {
  const { handle, narrowed } = await openAuditFile(file)
  try {
    const bytes = Buffer.from(text)
    for (let at = 0; at < bytes.length;) at += (await handle.write(bytes, at)).bytesWritten
    return narrowed
  } finally {
    await handle.close()
  }
}

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** A call being audited: `end` writes its record once the result is known. */
export interface AuditedCall {
  /** Set when the call must not run: the audit log cannot be written. */
  readonly refused: AuditLogError | undefined
  readonly end: (result: CallResult) => Promise<void>
}

export interface AuditLogShape {
  /** Whether calls are audited at all. */
  readonly enabled: boolean
  /**
   * Start auditing a call. `takesHost`: the tool has a `host` argument, so a call without
   * one ran on the default host (recorded by alias). `session`: the MCP session, if any.
   */
  readonly begin: (call: { tool: string; args: unknown; session: string | null; takesHost: boolean }) => Promise<AuditedCall>
  /**
   * Record a call refused by input validation: the tool and the names of the fields at
   * fault, no value (its arguments did not decode, so none can be told to be a secret).
   */
  readonly invalid: (call: { tool: string; session: string | null; fields: ReadonlyArray<string>; started: Date; durationMs: number }) => Promise<void>
  /** This process's id, the session of stdio calls. */
  readonly processSession: string
}

export class AuditLog extends Context.Service<AuditLog, AuditLogShape>()("mcp-ssh-live/AuditLog") {
  /** The audit log of `AppConfig.auditLog`; a no-op when it is not set. Fails at start when the file cannot be opened. */
  static readonly layer: Layer.Layer<AuditLog, ConfigError, AppConfig | HostRegistry> = Layer.effect(AuditLog)(
    Effect.gen(function*() {
      const config = yield* AppConfig
      const registry = yield* HostRegistry
      const processSession = `stdio-${randomBytes(6).toString("hex")}`
      const file = config.auditLog
      if (file === undefined) {
        return AuditLog.of({
          enabled: false,
          processSession,
          begin: () => Promise.resolve({ refused: undefined, end: () => Promise.resolve() }),
          invalid: () => Promise.resolve()
        })
      }
      const opened = yield* Effect.tryPromise(() => openAuditFile(file)).pipe(
        Effect.mapError((e) => new ConfigError({ message: `--audit-log ${file}: cannot open the audit log (${reason(e.cause)})`, cause: e.cause }))
      )
      yield* Effect.promise(() => opened.handle.close())
      if (opened.narrowed !== undefined) yield* Effect.logWarning(`audit log ${opened.narrowed}`)
      const services = yield* Effect.context<never>()
      const run = <A>(effect: Effect.Effect<A>) => Effect.runPromiseWith(services)(effect)
      const lock = yield* Semaphore.make(1)
      let pending: Array<string> = []
      /** Why the last write failed (the cause of the refusals until one succeeds). */
      let lastFailure: unknown
      let pendingBytes = 0

      /** Write the kept records and then `line`, in one append; false (and `line` kept) when that fails. */
      const write = (line: string | undefined): Effect.Effect<boolean> =>
        lock.withPermits(1)(Effect.gen(function*() {
          const batch = line === undefined ? pending : [...pending, line]
          if (batch.length === 0) return true
          const written = yield* Effect.tryPromise(() => appendText(file, batch.join(""))).pipe(
            Effect.tap((narrowed) => narrowed === undefined ? Effect.void : Effect.logWarning(`audit log ${narrowed}`)),
            Effect.as(true),
            Effect.catch((e) => {
              lastFailure = e.cause
              return Effect.as(Effect.logError(`audit log ${file}: cannot write (${reason(e.cause)}); tool calls are refused until it can`), false)
            })
          )
          if (written) {
            pending = []
            pendingBytes = 0
            return true
          }
          if (line !== undefined) {
            if (pendingBytes + line.length > MAX_PENDING_BYTES) {
              yield* Effect.logError(`audit log ${file}: too many records kept unwritten; this one only here: ${line.trimEnd()}`)
            } else {
              pending = batch
              pendingBytes += line.length
            }
          }
          return false
        }))

      const begin: AuditLogShape["begin"] = async ({ tool, args, session, takesHost }) => {
        const time = new Date()
        const started = performance.now()
        const named = typeof args === "object" && args !== null && "host" in args && (args as { host?: unknown }).host !== undefined
        const defaultHost = takesHost && !named ? (await run(registry.defaultAlias)) ?? null : undefined
        const facts = (result: CallResult): CallFacts => ({
          time, session, tool, args, result, durationMs: Math.round(performance.now() - started),
          ...(defaultHost !== undefined ? { defaultHost } : {})
        })
        const end = (result: CallResult) => run(write(`${JSON.stringify(auditRecord(facts(result)))}\n`)).then(() => undefined)
        if (await run(write(undefined))) return { refused: undefined, end }
        const refused = new AuditLogError({
          message: `${tool} was not run: the audit log cannot be written`,
          hint: "the operator must fix the audit log file (see the server's stderr); calls run again once it is writable",
          cause: lastFailure
        })
        await end({ isError: true, content: [{ type: "text", text: `${refused.code}: ${refused.message}` }] })
        return { refused, end: () => Promise.resolve() }
      }
      // Kept, like any record, when it cannot be written (the next calls are then refused).
      const invalid: AuditLogShape["invalid"] = ({ tool, session, fields, started, durationMs }) =>
        run(write(`${JSON.stringify(invalidInputRecord({ time: started, session, tool, fields, durationMs }))}\n`)).then(() => undefined)
      return AuditLog.of({ enabled: true, processSession, begin, invalid })
    })
  )
}
