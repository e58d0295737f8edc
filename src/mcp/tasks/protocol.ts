/**
 * The wire of the MCP Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663, revision
 * 2026-07-28): its identifier, the request params we accept, and a task as `tasks/get`,
 * `notifications/tasks` and the `tools/call` task handle show it. Only shapes here: the
 * state lives in TaskRegistry.ts.
 *
 * @since 0.2.0
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type CallToolResult,
  inputRequired,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext
} from "@modelcontextprotocol/server"
import { Schema } from "effect"
import type { ElicitForm } from "../tools/Tool.js"

/** The extension's identifier, in capabilities (`extensions`) on both sides. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks"

export type TaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled"

export const isTerminal = (status: TaskStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/** A JSON-RPC error a task failed with (`failed` only: a tool error is a `completed` result with `isError`). */
export interface TaskError {
  readonly code: number
  readonly message: string
}

/** What a task shows, whatever the wire. */
export interface TaskView {
  readonly taskId: string
  readonly status: TaskStatus
  readonly statusMessage: string | undefined
  readonly createdAt: number
  readonly lastUpdatedAt: number
  /** When a finished task is forgotten (null while it runs: it is kept until then). */
  readonly expiresAt: number | null
  readonly pollIntervalMs: number
  readonly questions: ReadonlyArray<{ readonly key: string; readonly form: ElicitForm }>
  readonly result: CallToolResult | undefined
  readonly error: TaskError | undefined
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The fields every task shape carries (2026-07-28). */
const base = (t: TaskView) => ({
  taskId: t.taskId,
  status: t.status,
  ...(t.statusMessage !== undefined ? { statusMessage: t.statusMessage } : {}),
  createdAt: iso(t.createdAt),
  lastUpdatedAt: iso(t.lastUpdatedAt),
  // From creation, as the extension counts it; unknown (unlimited) until the task ends.
  ttlMs: t.expiresAt === null ? null : Math.max(0, t.expiresAt - t.createdAt),
  pollIntervalMs: t.pollIntervalMs
})

/** The `tools/call` answer that hands the call over to a task. */
export const createTaskResult = (t: TaskView) => ({ resultType: "task" as const, ...base(t) })

/**
 * The task as `tasks/get` returns it and `notifications/tasks` carries it: the status's own
 * field inlined (the questions, the final result, or the error).
 */
export const detailedTask = (t: TaskView): Record<string, unknown> => {
  const fields = base(t)
  switch (t.status) {
    case "input_required":
      return {
        ...fields,
        inputRequests: Object.fromEntries(t.questions.map(({ form, key }) => [
          key,
          inputRequired.elicit({ mode: "form", message: form.message, requestedSchema: form.requestedSchema })
        ]))
      }
    case "completed":
      // The same result `tools/call` would have answered, with the discriminator it would have had.
      return { ...fields, result: { ...t.result, resultType: "complete" } }
    case "failed":
      return { ...fields, error: t.error ?? { code: ProtocolErrorCode.InternalError, message: "the task failed" } }
    default:
      return fields
  }
}

/**
 * The 2025-11-25 experimental tasks (the same tasks, an older wire): the server capability
 * (`capabilities.tasks`, in `initialize`), and a task as `tasks/get`, `tasks/cancel`,
 * `tasks/list` and a task-augmented `tools/call` (`{ task }`) show it.
 */
export const TASKS_CAPABILITY_2025 = { list: {}, cancel: {}, requests: { tools: { call: {} } } }

export const task2025 = (t: TaskView) => ({
  taskId: t.taskId,
  status: t.status,
  ...(t.statusMessage !== undefined ? { statusMessage: t.statusMessage } : {}),
  createdAt: iso(t.createdAt),
  lastUpdatedAt: iso(t.lastUpdatedAt),
  ttl: t.expiresAt === null ? null : Math.max(0, t.expiresAt - t.createdAt),
  pollInterval: t.pollIntervalMs
})

/** `tasks/get`, `tasks/cancel` and `tasks/result` params; `tasks/update`'s `inputResponses` are lifted out by the SDK (`ctx.mcpReq.inputResponses`). */
export const TaskIdParams = Schema.toStandardSchemaV1(Schema.Struct({ taskId: Schema.String }))

/** `tasks/list` params (2025-11-25). */
export const ListParams = Schema.toStandardSchemaV1(Schema.Struct({ cursor: Schema.optionalKey(Schema.String) }))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The client capabilities a 2026-07-28 request declares (its `_meta` envelope); undefined on 2025-era requests. */
export const requestCapabilities = (ctx: ServerContext): Record<string, unknown> | undefined => {
  const envelope: unknown = ctx.mcpReq.envelope
  if (!isRecord(envelope)) return undefined
  const capabilities = envelope[CLIENT_CAPABILITIES_META_KEY]
  return isRecord(capabilities) ? capabilities : {}
}

/** Whether a request's capabilities declare the extension. */
export const declaresTasks = (capabilities: Record<string, unknown> | undefined): boolean => {
  const extensions = capabilities?.extensions
  return isRecord(extensions) && isRecord(extensions[TASKS_EXTENSION])
}

/** Whether a request's capabilities declare form elicitation (an empty `elicitation` is the 2025-06-18 form). */
export const declaresForms = (capabilities: Record<string, unknown> | undefined): boolean => {
  const elicitation = capabilities?.elicitation
  return isRecord(elicitation) && (elicitation.form !== undefined || Object.keys(elicitation).length === 0)
}

/** `tasks/*` from a request that did not declare the extension: -32021, as the extension requires. */
export const missingCapability = () =>
  new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    `Missing required client capability: declare the ${TASKS_EXTENSION} extension in the request's capabilities`
  )

/** An unknown or forgotten task id: -32602 naming it. */
export const noSuchTask = (taskId: string, why: "unknown" | "expired", keptSec: number, endedAs?: string) =>
  new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    why === "expired"
      ? `Task ${JSON.stringify(taskId)} has expired${endedAs === undefined ? "" : ` (it ${endedAs})`}: a finished task is kept for ${keptSec} s (reap_finished_after_sec), then forgotten`
      : `Task ${JSON.stringify(taskId)} not found: no task of this server has that id`
  )
