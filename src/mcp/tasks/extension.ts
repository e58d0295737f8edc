/**
 * The MCP Tasks extension (`io.modelcontextprotocol/tasks`, 2026-07-28) on an SDK v2
 * `McpServer`, shaped like the SDK's own extensions (`SkillsExtension.attach`): one instance
 * per process (it holds the `TaskRegistry`), attached to every McpServer the process makes.
 * `attach` declares the capability (`server/discover`, and `initialize`'s `extensions` on
 * 2025-era sessions, where it is informational: those requests carry no per-request
 * capabilities, so nothing changes for them), serves `tasks/get`, `tasks/update` and
 * `tasks/cancel` (custom handlers with explicit schemas), and wraps `tools/call`.
 *
 * Why a wrapper: SDK 2.4's McpServer validates what a `registerTool` handler returns as a
 * `CallToolResult`, so a tool cannot answer with a task handle; the SDK leaves `tools/call`
 * to low-level `setRequestHandler` authors for anything else. The wrapper hands every call
 * that cannot become a task to McpServer's own handler, unchanged (read through the
 * protected `_getRequestHandler`), and for one that can (the request declares the extension,
 * the tool allows tasks) runs the same handler and answers with a task handle as soon as the
 * call becomes a task; the handler's eventual result, validated and shaped by McpServer as
 * ever, is the task's result. When the SDK ships its own Tasks extension, `register.ts`'s
 * hook (`taskCallOf`) and this wrapper are what move onto it.
 *
 * @since 0.2.0
 */
import {
  type CallToolResult,
  type InputRequiredResult,
  inputResponse,
  isInputRequiredResult,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext
} from "@modelcontextprotocol/server"
import { Effect } from "effect"
import { tools } from "../tools/index.js"
import type { ElicitAnswer } from "../tools/Tool.js"
import { PendingCall } from "./call.js"
import {
  createTaskResult,
  declaresForms,
  declaresTasks,
  detailedTask,
  missingCapability,
  noSuchTask,
  requestCapabilities,
  TASKS_EXTENSION,
  TaskIdParams
} from "./protocol.js"
import { makeTaskRegistry, type Task, type TaskRegistry } from "./TaskRegistry.js"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A `tools/call` error as the task's `failed` error (a JSON-RPC error, never a tool error). */
const asTaskError = (e: unknown) =>
  e instanceof ProtocolError
    ? { code: e.code, message: e.message }
    : { code: ProtocolErrorCode.InternalError, message: "the tool call failed unexpectedly; details are in the server's log" }

/** What a cancelled run answers (register.ts's `toResult` for an interrupted handler). */
const isCancelled = (result: CallToolResult) =>
  result.isError === true && result.content.some((c) => c.type === "text" && c.text.startsWith("CANCELLED:"))

export class TasksExtension {
  readonly id = TASKS_EXTENSION

  /**
   * @param registry the process's tasks
   * @param tools the tools that allow tasks, by name: `"job"` when the task is the call's job
   */
  constructor(readonly registry: TaskRegistry, readonly tools: ReadonlyMap<string, "job" | "own">) {}

  /** Serve the extension on `mcp`: after its tools are registered, before it connects. */
  attach(mcp: McpServer): void {
    const server = mcp.server
    const callTool = server["_getRequestHandler"]("tools/call")
    if (callTool === undefined) throw new Error("attach the tasks extension after registering the tools")
    server.setRequestHandler("tools/call", async (request, ctx) => {
      // McpServer's handler answers a tools/call: a tool result or, on 2026-07-28, an input_required one.
      const mcpServerCall = async () => (await callTool({ jsonrpc: "2.0", id: ctx.mcpReq.id, ...request }, ctx)) as CallToolResult | InputRequiredResult
      const kind = this.tools.get(request.params.name)
      const capabilities = requestCapabilities(ctx)
      if (kind === undefined || !declaresTasks(capabilities)) return mcpServerCall()
      const reservation = this.registry.reserve()
      if (reservation === undefined) {
        return {
          isError: true,
          content: [{
            type: "text",
            text: `LIMIT_REACHED: ${this.registry.options.maxTasks} tasks are running or held; max_jobs is ${this.registry.options.maxTasks} ` +
              "(hint: cancel tasks with tasks/cancel, wait for some to end, or raise [limits] max_jobs)"
          }]
        }
      }
      const pending = new PendingCall(this.registry, { name: request.params.name, kind }, reservation, ctx, declaresForms(capabilities))
      const running = mcpServerCall().then(
        (result) => ({ result }),
        (error: unknown) => ({ error })
      )
      const first = await Promise.race([running, pending.promoted.then((task) => ({ task }))])
      if (!("task" in first)) {
        pending.discard()
        if ("error" in first) throw first.error
        return first.result
      }
      const task = first.task
      void running.then((outcome) =>
        this.registry.finish(
          task,
          // A task asks through its own questions, never with an input_required result.
          "result" in outcome && !isInputRequiredResult(outcome.result)
            ? { result: outcome.result }
            : { error: asTaskError("error" in outcome ? outcome.error : undefined) },
          task.cancelRequested && ("error" in outcome || isInputRequiredResult(outcome.result) || isCancelled(outcome.result))
        )
      )
      // SDK 2.4 checks every tools/call result for `content`; a task handle has none of its own.
      return { ...createTaskResult(this.registry.view(task)), content: [] }
    })

    server.setRequestHandler("tasks/get", { params: TaskIdParams }, (params, ctx) =>
      detailedTask(this.registry.view(this.#find(params.taskId, ctx))))

    server.setRequestHandler("tasks/update", { params: TaskIdParams }, (params, ctx) => {
      const task = this.#find(params.taskId, ctx)
      const responses = ctx.mcpReq.inputResponses
      const answers = new Map<string, ElicitAnswer>()
      for (const key of Object.keys(isRecord(responses) ? responses : {})) {
        const view = inputResponse(responses, key)
        if (view.kind === "elicit") answers.set(key, { action: view.action, ...(view.content !== undefined ? { content: view.content } : {}) })
      }
      this.registry.answer(task, answers)
      return {}
    })

    server.setRequestHandler("tasks/cancel", { params: TaskIdParams }, (params, ctx) => {
      this.registry.cancel(this.#find(params.taskId, ctx))
      return {}
    })

    server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } })
  }

  /** The task `taskId` for a request that declares the extension, or the JSON-RPC error the extension prescribes. */
  #find(taskId: string, ctx: ServerContext): Task {
    const capabilities = requestCapabilities(ctx)
    // 2025-era requests (no per-request capabilities) get what they got before: no such method.
    if (capabilities === undefined) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found")
    if (!declaresTasks(capabilities)) throw missingCapability()
    const found = this.registry.find(taskId)
    if (found === undefined || found === "expired") {
      throw noSuchTask(taskId, found === "expired" ? "expired" : "unknown", this.registry.keepSec)
    }
    return found
  }
}

/** The tools that allow tasks, by name, and how (`Tool.task`). */
const taskKinds = new Map(tools.flatMap((t) => t.use((tool) => tool.task === undefined ? [] : [[tool.name, tool.task] as const])))

/** The extension for one serving scope (a registry of its own), over the server's tools. */
export const makeTasksExtension = Effect.map(makeTaskRegistry, (registry) => new TasksExtension(registry, taskKinds))
