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
 * `CallToolResult`, and the Server validates every `tools/call` handler's answer as one, so
 * no handler can answer with a task handle. The wrapper sits in front of McpServer's own
 * handler (read through the protected `_getRequestHandler`) as the Server's fallback request
 * handler, which the SDK does not wrap: every call that cannot become a task goes to
 * McpServer's handler unchanged (multi-round state verified once, results validated as
 * ever); for one that can (the request declares the extension, the tool allows tasks) it
 * runs the same handler and answers with a task handle as soon as the call becomes a task,
 * and the handler's eventual result, validated and shaped by McpServer, is the task's result.
 * When the SDK ships its own Tasks extension, `register.ts`'s hook (`taskCallOf`) and this
 * wrapper are what move onto it.
 *
 * @since 0.2.0
 */
import {
  type CallToolResult,
  inputResponse,
  isCallToolResult,
  type JSONRPCRequest,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type Result,
  type ServerContext
} from "@modelcontextprotocol/server"
import { Effect } from "effect"
import { tools } from "../tools/index.js"
import type { ElicitAnswer } from "../tools/Tool.js"
import { PendingCall } from "./call.js"
import { TaskListens } from "./listen.js"
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

type RequestHandler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>

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
  /** `subscriptions/listen` for task ids, served ahead of the SDK by the entries (listen.ts). */
  readonly listens: TaskListens

  /**
   * @param registry the process's tasks
   * @param tools the tools that allow tasks, by name: `"job"` when the task is the call's job
   */
  constructor(readonly registry: TaskRegistry, readonly tools: ReadonlyMap<string, "job" | "own">) {
    this.listens = new TaskListens(registry)
  }

  /** Serve the extension on `mcp`: after its tools are registered, before it connects. */
  attach(mcp: McpServer): void {
    const server = mcp.server
    const callTool = server["_getRequestHandler"]("tools/call")
    if (callTool === undefined) throw new Error("attach the tasks extension after registering the tools")
    // McpServer's handler stays the one that answers tools/call (verifying multi-round state and
    // validating results once, as ever); the extension sits in front of it as the fallback
    // handler, which the SDK does not wrap, so that it can also answer with a task handle.
    server.removeRequestHandler("tools/call")
    const previous = server.fallbackRequestHandler
    server.fallbackRequestHandler = (request, ctx) =>
      request.method === "tools/call"
        ? this.#toolsCall(callTool, request, ctx)
        : previous !== undefined
        ? previous(request, ctx)
        : Promise.reject(new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found"))

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

  /** A `tools/call`: McpServer's answer, or a task handle once the call becomes a task. */
  async #toolsCall(callTool: RequestHandler, request: JSONRPCRequest, ctx: ServerContext): Promise<Result> {
    const name = request.params?.name
    const kind = typeof name === "string" ? this.tools.get(name) : undefined
    const capabilities = requestCapabilities(ctx)
    if (kind === undefined || typeof name !== "string" || !declaresTasks(capabilities)) return callTool(request, ctx)
    const reservation = this.registry.reserve()
    if (reservation === undefined) {
      const max = this.registry.options.maxTasks
      return {
        isError: true,
        content: [{
          type: "text",
          text: `LIMIT_REACHED: ${max} tasks are running; max_jobs is ${max} (hint: cancel some with tasks/cancel, wait for some to end, or raise [limits] max_jobs)`
        }]
      }
    }
    const pending = new PendingCall(this.registry, { name, kind }, reservation, ctx, declaresForms(capabilities))
    const running = callTool(request, ctx).then(
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
    void running.then((outcome) => {
      // McpServer's handler answers a tools/call; a task asks through its own questions, never with input_required.
      const result = "result" in outcome && isCallToolResult(outcome.result) ? outcome.result : undefined
      this.registry.finish(
        task,
        result !== undefined ? { result } : { error: asTaskError("error" in outcome ? outcome.error : undefined) },
        task.cancelRequested && (result === undefined || isCancelled(result))
      )
    })
    return createTaskResult(this.registry.view(task))
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
