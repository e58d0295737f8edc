/**
 * The adapter between tools and the MCP SDK v2: publishes each tool's Effect
 * Schemas as JSON Schema, runs its handler with the application's services, and
 * turns the outcome into a tool result. No failure escapes as an exception: typed
 * errors become a text block `CODE: message (hint: …)`, defects a generic INTERNAL
 * error (details to stderr only). Error results carry no `structuredContent`: SDK 1.x
 * clients and the MCP Inspector check it against the `outputSchema` even when
 * `isError` is set, and would replace our message with a schema mismatch.
 *
 * Arguments are validated here, not by the SDK (which is given a schema that accepts
 * anything, with the same published JSON Schema): the SDK's validation ran before any code
 * of ours, so a refused call left no audit record. The refusal reads as the SDK's did.
 *
 * Asking the human (elicitation) follows the session's protocol revision: a 2025-era
 * session gets a server→client `elicitation/create` request mid-call; a 2026-07-28
 * request gets an `input_required` result and is retried by the client with the
 * answers (multi round-trip requests).
 *
 * @since 0.1.0
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type CallToolResult,
  createRequestStateCodec,
  inputRequired,
  type InputRequiredResult,
  inputResponse,
  type McpServer,
  type RegisteredTool,
  type ServerContext,
  type StandardSchemaWithJSON
} from "@modelcontextprotocol/server"
import { createHash, randomBytes } from "node:crypto"
import { Cause, type Context, Effect, Exit, Schema } from "effect"
import type { StandardJSONSchemaV1, StandardSchemaV1 } from "effect/StandardSchema"
import type { AuditLogShape } from "../audit.js"
import { invalidFields } from "../auditRecord.js"
import { legacyClientRoots, rootPaths } from "../clientRoots.js"
import { stderrLine } from "../logging.js"
import { type TaskCallHook, taskCallOf } from "../tasks/call.js"
import { compactSchema, type Json } from "./compactSchema.js"
import { snake } from "./fields.js"
import type { AnyTool, ElicitAnswer, ElicitForm, Tool, ToolContext } from "./Tool.js"

/**
 * Results `toResult` made by encoding a handler's typed output: valid by construction.
 * The SDK validates `structuredContent` against the output schema again; for these it
 * is skipped (on a 10 000-line `ssh_tail` that second pass cost ~9 ms per call).
 */
const encodedOutputs = new WeakSet<object>()

/**
 * The Standard Schema (validation + JSON Schema) the SDK takes. Inputs also reject unknown
 * keys. The published JSON Schema is compacted (see compactSchema.ts): same meaning, fewer
 * tokens; output schemas also go without `required`. Outputs that `toResult` encoded pass
 * validation as they are (see `encodedOutputs`); anything else is validated in full.
 */
const standard = <S extends Schema.ConstraintDecoder<unknown> & Schema.Constraint>(schema: S, side: "input" | "output") => {
  const full = Schema.toStandardJSONSchemaV1(
    Schema.toStandardSchemaV1(schema, side === "input" ? { parseOptions: { onExcessProperty: "error", errors: "all" } } : undefined)
  )["~standard"]
  const compact = (generate: (options: StandardJSONSchemaV1.Options) => Record<string, unknown>) =>
    (options: StandardJSONSchemaV1.Options) =>
      compactSchema(generate(options) as Json, { dropRequired: side === "output" }) as Record<string, unknown>
  const validate: typeof full.validate = side === "output"
    ? (value, options) =>
      typeof value === "object" && value !== null && encodedOutputs.has(value)
        ? { value: value as S["Type"] }
        : full.validate(value, options)
    : full.validate
  return {
    "~standard": {
      ...full,
      validate,
      // An output is published as it is sent: encoded (e.g. `snakeKeys`), which is the Standard Schema's input side.
      jsonSchema: side === "input"
        ? { input: compact(full.jsonSchema.input), output: compact(full.jsonSchema.output) }
        : { input: compact(full.jsonSchema.input), output: compact(full.jsonSchema.input) }
    }
  }
}

/**
 * What the SDK is given as a tool's input schema: the published JSON Schema, and a
 * validation that lets everything through to the handler, which validates (and audits).
 */
const acceptingAll = (schema: ReturnType<typeof standard>): StandardSchemaWithJSON<unknown, unknown> => ({
  "~standard": {
    version: 1,
    vendor: schema["~standard"].vendor,
    validate: (value) => ({ value }),
    jsonSchema: schema["~standard"].jsonSchema
  }
})

/** The SDK's wording for refused arguments (`validateToolInput`), which clients already see. */
const invalidArguments = (toolName: string, issues: ReadonlyArray<StandardSchemaV1.Issue>): CallToolResult => ({
  isError: true,
  content: [{
    type: "text",
    text: `Input validation error: Invalid arguments for tool ${toolName}: ${
      issues.map((i) =>
        i.path === undefined || i.path.length === 0
          ? i.message
          : `${i.path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")}: ${i.message}`
      ).join(", ")
    }`
  }]
})

/** A tool error result: text only (see the module comment). */
export const errorResult = (code: string, message: string, hint?: string): CallToolResult => ({
  isError: true,
  content: [{ type: "text", text: `${code}: ${message}${hint === undefined ? "" : ` (hint: ${hint})`}` }]
})

const hasCode = (e: unknown): e is { code: string; message: string; hint?: string } =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" &&
  typeof (e as { message?: unknown }).message === "string"

/** The result of a finished handler. */
export const toResult = <O>(
  exit: Exit.Exit<O, unknown>,
  encode: (o: O) => unknown,
  toolName: string,
  text: (structured: Record<string, unknown>) => string = (structured) => JSON.stringify(structured)
): CallToolResult => {
  if (Exit.isSuccess(exit)) {
    const structured = encode(exit.value) as Record<string, unknown>
    encodedOutputs.add(structured)
    return { content: [{ type: "text", text: text(structured) }], structuredContent: structured }
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some" && hasCode(failure.value)) {
    return errorResult(failure.value.code, failure.value.message, failure.value.hint)
  }
  if (Cause.hasInterruptsOnly(exit.cause)) return errorResult("CANCELLED", `${toolName} was cancelled`)
  process.stderr.write(stderrLine(`[mcp-ssh-live] internal error in ${toolName}: ${Cause.pretty(exit.cause)}`))
  return errorResult("INTERNAL", `${toolName} failed unexpectedly; details are in the server's log`)
}

/** A 2025-era session: ask mid-call with a server→client `elicitation/create` request. */
const pushElicit = (ctx: ServerContext, server: McpServer): ToolContext["elicit"] => {
  const elicitation = server.server.getClientCapabilities()?.elicitation
  // An empty elicitation capability means form mode (the 2025-06-18 shape).
  const canElicitForm = elicitation !== undefined &&
    ((elicitation as { form?: unknown }).form !== undefined || Object.keys(elicitation).length === 0)
  if (!canElicitForm) return undefined
  return (form) =>
    Effect.tryPromise({
      try: () => ctx.mcpReq.elicitInput({ mode: "form", message: form.message, requestedSchema: form.requestedSchema }),
      catch: (e) => e instanceof Error ? e : new Error(String(e))
    }).pipe(Effect.map((r): ElicitAnswer => ({ action: r.action, ...(r.content !== undefined ? { content: r.content } : {}) })))
}

/**
 * What a 2026-07-28 multi-round call carries from one round to the next, sealed by
 * `roundState` (HMAC) so that a client cannot claim an answer to a question it was
 * never asked: the question asked under each key (a hash of the form, so an answer
 * is reused only for the very same question, e.g. the same host key fingerprint)
 * and the answers already given.
 */
interface RoundState {
  readonly tool: string
  readonly asked: Readonly<Record<string, string>>
  readonly answers: Readonly<Record<string, { readonly form: string; readonly answer: ElicitAnswer }>>
  /** The client's roots once it answered (null: it named none), for the rounds after. */
  readonly roots?: ReadonlyArray<string> | null
}

/** Seals `RoundState`; one key per process (every round of a call reaches this process). */
export const roundState = createRequestStateCodec<RoundState>({
  key: randomBytes(32),
  ttlSeconds: 900,
  bind: (ctx) => ctx.mcpReq.method
})

const formHash = (form: ElicitForm): string => createHash("sha256").update(JSON.stringify(form)).digest("base64url")

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * A 2026-07-28 call: the server cannot ask mid-call, so the handler is run again for
 * each round (MRTR). `elicit` answers from this round's `inputResponses` (or from
 * earlier rounds, kept in the sealed state) when the same question was asked before;
 * otherwise it records the question, answers "cancel" for now, and `finish` turns the
 * call's result into an `input_required` result asking it. Undefined `elicit` when the
 * request's client capabilities have no form elicitation.
 */
const multiRound = (ctx: ServerContext, toolName: string, envelope: Record<string, unknown>, withRoots: boolean) => {
  const capabilities = envelope[CLIENT_CAPABILITIES_META_KEY]
  const elicitation = isRecord(capabilities) ? capabilities.elicitation : undefined
  const canElicitForm = isRecord(elicitation) && (elicitation.form !== undefined || Object.keys(elicitation).length === 0)
  const previous = ctx.mcpReq.requestState<RoundState>()
  const state = previous !== undefined && previous.tool === toolName ? previous : undefined
  // The client's roots, when they apply (stdio) and it declared them: from this round's answer
  // or an earlier one's (kept in the sealed state), else asked for.
  const rootsView = inputResponse(ctx.mcpReq.inputResponses, ROOTS_KEY)
  const knownRoots = rootsView.kind === "roots" ? rootPaths(rootsView.roots) ?? null : state?.roots
  let askRoots = false
  const clientRoots: ToolContext["clientRoots"] = withRoots && isRecord(capabilities) && isRecord(capabilities.roots)
    ? Effect.sync(() => {
      if (knownRoots !== undefined) return knownRoots ?? undefined
      askRoots = true
      return "asking" as const
    })
    : undefined
  const answers: Record<string, { form: string; answer: ElicitAnswer }> = { ...state?.answers }
  for (const [key, form] of Object.entries(state?.asked ?? {})) {
    const view = inputResponse(ctx.mcpReq.inputResponses, key)
    if (view.kind === "elicit") {
      answers[key] = { form, answer: { action: view.action, ...(view.content !== undefined ? { content: view.content } : {}) } }
    }
  }
  const pending: Record<string, ElicitForm> = {}
  let asked = 0
  const elicit: ToolContext["elicit"] = canElicitForm
    ? (form) =>
      Effect.sync((): ElicitAnswer => {
        const key = `elicit_${asked++}`
        const known = answers[key]
        if (known !== undefined && known.form === formHash(form)) return known.answer
        pending[key] = form
        return { action: "cancel" }
      })
    : undefined
  const finish = async (result: CallToolResult): Promise<CallToolResult | InputRequiredResult> => {
    const keys = Object.keys(pending)
    if (keys.length === 0 && !askRoots) return result
    const next: RoundState = {
      tool: toolName,
      asked: Object.fromEntries(keys.map((k) => [k, formHash(pending[k]!)])),
      answers: Object.fromEntries(Object.entries(answers).filter(([k]) => pending[k] === undefined)),
      ...(knownRoots !== undefined ? { roots: knownRoots } : {})
    }
    return inputRequired({
      inputRequests: {
        ...Object.fromEntries(keys.map((k) => [k, inputRequired.elicit({
          mode: "form",
          message: pending[k]!.message,
          requestedSchema: pending[k]!.requestedSchema
        })])),
        ...(askRoots ? { [ROOTS_KEY]: inputRequired.listRoots() } : {})
      },
      requestState: await roundState.mint(next, ctx)
    })
  }
  return { elicit, clientRoots, finish }
}

/** The key a 2026-07-28 call's roots request and answer go under. */
const ROOTS_KEY = "roots"

const toolContext = (
  ctx: ServerContext,
  elicit: ToolContext["elicit"],
  task: TaskCallHook | undefined,
  clientRoots: ToolContext["clientRoots"]
): ToolContext => {
  const token = ctx.mcpReq._meta?.progressToken
  const context: ToolContext = {
    elicit,
    clientRoots,
    signal: ctx.mcpReq.signal,
    wantsProgress: token !== undefined,
    progress: (progress, message, total) =>
      token === undefined ? Effect.void : Effect.promise(() =>
        ctx.mcpReq.notify({
          method: "notifications/progress",
          params: {
            progressToken: token,
            progress,
            ...(total !== undefined ? { total } : {}),
            ...(message !== undefined ? { message } : {})
          }
        }).catch(() => undefined)
      )
  }
  // A call that may become an MCP task: its progress also makes the task's status message.
  return task === undefined
    ? context
    : { ...context, signal: task.signal, wantsProgress: true, progress: task.progress(context.progress), task: task.context }
}

/** Whether a tool takes a `host` argument (then a call without one runs on the default host). */
const takesHost = (input: ReturnType<typeof standard>): boolean => {
  const schema = input["~standard"].jsonSchema.input({ target: "draft-2020-12" })
  return isRecord(schema.properties) && "host" in schema.properties
}

/**
 * Decoded arguments under the names the agent sent: an input may decode its snake_case keys to
 * a service's camelCase options (`snakeKeys`); the values stay decoded (a `Redacted` stays hidden).
 */
const asSent = (args: unknown): unknown =>
  isRecord(args) ? Object.fromEntries(Object.entries(args).map(([k, v]) => [snake(k), v])) : args

/** Where a call is audited: the audit log, and the session of calls that carry none (stdio). */
export interface AuditOptions {
  readonly log: AuditLogShape
  readonly session: string | undefined
}

const registerOne = <I, O, R>(
  server: McpServer,
  tool: Tool<I, O, R>,
  context: Context.Context<R>,
  audit: AuditOptions | undefined,
  withRoots: boolean
): RegisteredTool => {
  const encode = Schema.encodeSync(tool.output)
  const inputSchema = standard(tool.input, "input")
  const validateInput = inputSchema["~standard"].validate
  const hostArgument = audit?.log.enabled === true && takesHost(inputSchema)
  return server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      annotations: tool.annotations,
      ...(tool.meta !== undefined ? { _meta: { ...tool.meta } } : {}),
      inputSchema: acceptingAll(inputSchema),
      outputSchema: standard(tool.output, "output")
    },
    async (raw, ctx) => {
      const started = new Date()
      const decoded = await validateInput(raw)
      if (decoded.issues !== undefined) {
        await audit?.log.invalid({
          tool: tool.name,
          session: ctx.sessionId ?? audit.session ?? null,
          fields: invalidFields(decoded.issues.map((i) => i.path)),
          started,
          durationMs: Date.now() - started.getTime()
        })
        return invalidArguments(tool.name, decoded.issues)
      }
      const args = decoded.value
      // Every call is audited (one line per 2026-07-28 round); none runs while the log cannot be written.
      const audited = audit?.log.enabled === true
        ? await audit.log.begin({ tool: tool.name, args: asSent(args), session: ctx.sessionId ?? audit.session ?? null, takesHost: hostArgument })
        : undefined
      if (audited?.refused !== undefined) return errorResult(audited.refused.code, audited.refused.message, audited.refused.hint)
      // A 2026-07-28 request carries the per-request `_meta` envelope; a 2025-era one does not.
      const envelope: unknown = ctx.mcpReq.envelope
      const rounds = isRecord(envelope) ? multiRound(ctx, tool.name, envelope, withRoots) : undefined
      // A call that may become an MCP task asks through the task, and only tasks/cancel stops it once it is one.
      const task = taskCallOf(ctx)
      const elicit = task !== undefined ? task.elicit : rounds !== undefined ? rounds.elicit : pushElicit(ctx, server)
      const clientRoots = rounds !== undefined ? rounds.clientRoots : withRoots ? legacyClientRoots(server) : undefined
      const exit = await Effect.runPromiseExitWith(context)(tool.handler(args, toolContext(ctx, elicit, task, clientRoots)), {
        signal: task?.signal ?? ctx.mcpReq.signal
      })
      const result = toResult(exit, encode, tool.name, tool.text)
      const final = rounds !== undefined ? await rounds.finish(result) : result
      await audited?.end(final)
      return final
    }
  )
}

/**
 * Register `tools` on `server`, running handlers with `context`; with `audit`, every call is
 * recorded; with `clientRoots` (stdio), handlers get the client's MCP roots. Returns what the
 * SDK registered, by name.
 */
export const registerTools = <R>(
  server: McpServer,
  tools: ReadonlyArray<AnyTool<R>>,
  context: Context.Context<R>,
  audit?: AuditOptions,
  clientRoots = false
): ReadonlyMap<string, RegisteredTool> =>
  new Map(tools.map((tool) => [tool.name, tool.use((t) => registerOne(server, t, context, audit, clientRoots))]))
