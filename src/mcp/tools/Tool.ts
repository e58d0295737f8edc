/**
 * A tool: its name, its input and output as Effect Schemas (the one source of the
 * JSON Schemas published in `tools/list`), and a handler that is an Effect over
 * the services. Tools never touch ssh2 or MCP types; `register.ts` adapts them.
 *
 * @since 0.1.0
 */
import type { Effect, Schema } from "effect"
import type { SshLiveError } from "../../domain/errors.js"

/** A form elicitation: a flat object of primitive fields, as MCP allows. */
export interface ElicitForm {
  readonly message: string
  readonly requestedSchema: {
    readonly type: "object"
    readonly properties: Record<string, {
      readonly type: "string"
      readonly title?: string
      readonly description?: string
      /** Without it, free text (a one-time code). */
      readonly enum?: Array<string>
      readonly enumNames?: Array<string>
      readonly maxLength?: number
    }>
    readonly required?: Array<string>
  }
}

export interface ElicitAnswer {
  readonly action: "accept" | "decline" | "cancel"
  readonly content?: Readonly<Record<string, unknown>>
}

/** What a handler may use of the MCP request it serves. */
export interface ToolContext {
  /**
   * Ask the human through the client (MCP form elicitation); undefined when the client
   * did not declare it. Fails when the request could not be made. Never for long-lived
   * secrets (a password); a server's one-time code is asked (`authPrompt.ts`).
   */
  readonly elicit: ((form: ElicitForm) => Effect.Effect<ElicitAnswer, Error>) | undefined
  /** Fires on `notifications/cancelled` (the handler's fiber is interrupted too). */
  readonly signal: AbortSignal
  /** Whether the client asked for progress (sent a progressToken). */
  readonly wantsProgress: boolean
  /** Send `notifications/progress` (no-op without a progressToken). */
  readonly progress: (progress: number, message?: string, total?: number) => Effect.Effect<void>
  /**
   * A stdio client's MCP roots as local paths (src/mcp/clientRoots.ts); undefined over HTTP
   * or when the client declared no roots. The paths, or undefined when it named none; in a
   * 2026-07-28 call's first round "asking": the call is answered by a request for them, so
   * the handler must do nothing (it is run again with the answer).
   */
  readonly clientRoots?: Effect.Effect<ReadonlyArray<string> | undefined | "asking"> | undefined
  /** Set when the call may become an MCP task (see `Tool.task`); its progress then feeds the task's status. */
  readonly task?: TaskContext | undefined
}

/** What a call that may become an MCP task (src/mcp/tasks/) is told. */
export interface TaskContext {
  /** How long the call runs before it becomes a task: list its job(s) then, and keep going. */
  readonly afterMs: number
  /** The id the call's job takes (`task: "job"`): the task's id, so ssh_tail and ssh_signal reach it. */
  readonly jobId: string
  /** The call's job is listed: the call is a task from now on, under `jobId`. */
  readonly listed: Effect.Effect<void>
  /** A job the call runs was listed (ssh_exec_many's per host): the task names it. */
  readonly named: (label: string, jobId: string) => Effect.Effect<void>
}

export interface ToolAnnotations {
  readonly title?: string
  readonly readOnlyHint?: boolean
  readonly destructiveHint?: boolean
  readonly idempotentHint?: boolean
  readonly openWorldHint?: boolean
}

/** Schemas a tool may use: decoding (validation) and JSON Schema generation need no services. */
export type ToolSchema<T> = Schema.Codec<T, unknown, never, never>

export interface Tool<I, O, R> {
  readonly name: string
  readonly title: string
  /** Written for an LLM: when to use it, what comes back. */
  readonly description: string
  readonly annotations: ToolAnnotations
  /** The tool definition's `_meta` in `tools/list` (e.g. an MCP Apps view link). */
  readonly meta?: Readonly<Record<string, unknown>>
  readonly input: ToolSchema<I>
  readonly output: ToolSchema<O>
  readonly handler: (input: I, context: ToolContext) => Effect.Effect<O, SshLiveError, R>
  /**
   * The text block of a success, from the encoded output; by default its JSON. For a result
   * whose bulk reads better as plain text (and costs fewer tokens) than as escaped JSON.
   */
  readonly text?: (structured: Record<string, unknown>) => string
  /**
   * Whether a long call may become an MCP task for clients with the Tasks extension: `"job"`
   * when its one job is the task (the task id is the job id), `"own"` when the task has an id
   * of its own. A call also becomes a task when it must ask the human something.
   */
  readonly task?: "job" | "own"
}

/**
 * A tool whose input and output types are hidden (an existential type), so tools of different
 * types fit in one list (the server's): `use` hands the typed tool back to a consumer generic
 * in them, and nothing is cast. A plain list would need a common supertype, and `Tool<I, O, R>`
 * has none but `Tool<any, O, R>`: it is invariant in I, its handler taking an I (contravariant)
 * and its input schema making one (covariant). (It is covariant in O: `unknown` would do there.)
 */
export interface AnyTool<R> {
  readonly name: string
  readonly use: <X>(f: <I, O>(tool: Tool<I, O, R>) => X) => X
}

/** Define a tool; the handler is checked against the schemas. The tool stays typed, and fits in a list of `AnyTool`. */
export const make = <I, O, R>(tool: Tool<I, O, R>): Tool<I, O, R> & AnyTool<R> => ({
  ...tool,
  use: (f) => f(tool)
})
