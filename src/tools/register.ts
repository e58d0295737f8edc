/**
 * The adapter between tools and the MCP SDK v2: publishes each tool's Effect
 * Schemas as JSON Schema, runs its handler with the application's services, and
 * turns the outcome into a tool result. No failure escapes as an exception: typed
 * errors become a text block `CODE: message (hint: …)`, defects a generic INTERNAL
 * error (details to stderr only). Error results carry no `structuredContent`: SDK 1.x
 * clients and the MCP Inspector check it against the `outputSchema` even when
 * `isError` is set, and would replace our message with a schema mismatch.
 *
 * @since 0.1.0
 */
import type { CallToolResult, McpServer, ServerContext } from "@modelcontextprotocol/server"
import { Cause, type Context, Effect, Exit, Schema } from "effect"
import type { StandardJSONSchemaV1 } from "effect/StandardSchema"
import { compactSchema, type Json } from "./compactSchema.js"
import type { AnyTool, ElicitAnswer, Tool, ToolContext } from "./Tool.js"

/**
 * The Standard Schema (validation + JSON Schema) the SDK takes. Inputs also reject unknown
 * keys. The published JSON Schema is compacted (see compactSchema.ts): same meaning, fewer
 * tokens; output schemas also go without `required`.
 */
const standard = <S extends Schema.ConstraintDecoder<unknown> & Schema.Constraint>(schema: S, side: "input" | "output") => {
  const full = Schema.toStandardJSONSchemaV1(
    Schema.toStandardSchemaV1(schema, side === "input" ? { parseOptions: { onExcessProperty: "error", errors: "all" } } : undefined)
  )["~standard"]
  const compact = (generate: (options: StandardJSONSchemaV1.Options) => Record<string, unknown>) =>
    (options: StandardJSONSchemaV1.Options) =>
      compactSchema(generate(options) as Json, { dropRequired: side === "output" }) as Record<string, unknown>
  return {
    "~standard": {
      ...full,
      jsonSchema: { input: compact(full.jsonSchema.input), output: compact(full.jsonSchema.output) }
    }
  }
}

/** A tool error result: text only (see the module comment). */
export const errorResult = (code: string, message: string, hint?: string): CallToolResult => ({
  isError: true,
  content: [{ type: "text", text: `${code}: ${message}${hint === undefined ? "" : ` (hint: ${hint})`}` }]
})

const hasCode = (e: unknown): e is { code: string; message: string; hint?: string } =>
  typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" &&
  typeof (e as { message?: unknown }).message === "string"

/** The result of a finished handler. */
export const toResult = <O>(exit: Exit.Exit<O, unknown>, encode: (o: O) => unknown, toolName: string): CallToolResult => {
  if (Exit.isSuccess(exit)) {
    const structured = encode(exit.value) as Record<string, unknown>
    return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured }
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some" && hasCode(failure.value)) {
    return errorResult(failure.value.code, failure.value.message, failure.value.hint)
  }
  if (Cause.hasInterruptsOnly(exit.cause)) return errorResult("CANCELLED", `${toolName} was cancelled`)
  process.stderr.write(`[mcp-ssh-live] internal error in ${toolName}: ${Cause.pretty(exit.cause)}\n`)
  return errorResult("INTERNAL", `${toolName} failed unexpectedly; details are in the server's log`)
}

const toolContext = (ctx: ServerContext, server: McpServer): ToolContext => {
  const token = ctx.mcpReq._meta?.progressToken
  const elicitation = server.server.getClientCapabilities()?.elicitation
  // An empty elicitation capability means form mode (the 2025-06-18 shape).
  const canElicitForm = elicitation !== undefined &&
    ((elicitation as { form?: unknown }).form !== undefined || Object.keys(elicitation).length === 0)
  return {
    elicit: canElicitForm
      ? (form) =>
        Effect.tryPromise({
          try: () =>
            ctx.mcpReq.elicitInput({
              mode: "form",
              message: form.message,
              requestedSchema: form.requestedSchema
            }),
          catch: (e) => e instanceof Error ? e : new Error(String(e))
        }).pipe(Effect.map((r): ElicitAnswer => ({ action: r.action, ...(r.content !== undefined ? { content: r.content } : {}) })))
      : undefined,
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
}

const registerOne = <I, O, R>(server: McpServer, tool: Tool<I, O, R>, context: Context.Context<R>): void => {
  const encode = Schema.encodeSync(tool.output)
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      annotations: tool.annotations,
      inputSchema: standard(tool.input, "input"),
      outputSchema: standard(tool.output, "output")
    },
    async (args, ctx) => {
      const exit = await Effect.runPromiseExitWith(context)(tool.handler(args, toolContext(ctx, server)), {
        signal: ctx.mcpReq.signal
      })
      return toResult(exit, encode, tool.name)
    }
  )
}

/** Register `tools` on `server`, running handlers with `context`. */
export const registerTools = <R>(server: McpServer, tools: ReadonlyArray<AnyTool<R>>, context: Context.Context<R>): void => {
  for (const tool of tools) tool.use((t) => registerOne(server, t, context))
}
