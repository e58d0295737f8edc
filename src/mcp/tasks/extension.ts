/**
 * The MCP Tasks extension (`io.modelcontextprotocol/tasks`, 2026-07-28) on an SDK v2
 * `McpServer`, shaped like the SDK's own extensions (`SkillsExtension.attach`): one instance
 * per process (it holds the `TaskRegistry`), attached to every McpServer the process makes.
 * `attach` declares the capability (`server/discover`; `initialize`'s `extensions` too, where
 * it is informational), serves `tasks/get`, `tasks/update` and `tasks/cancel` (custom handlers
 * with explicit schemas), and wraps `tools/call`. The same tasks are served on the 2025-11-25
 * experimental wire to 2025-era sessions (`capabilities.tasks`, `execution.taskSupport`,
 * task-augmented `tools/call`, `tasks/result`, `tasks/list`, questions pushed as
 * `elicitation/create`): only the shapes differ (protocol.ts), not the tasks.
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
  type RegisteredTool,
  RELATED_TASK_META_KEY,
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
  ListParams,
  missingCapability,
  noSuchTask,
  requestCapabilities,
  task2025,
  TASKS_CAPABILITY_2025,
  TASKS_EXTENSION,
  TaskIdParams
} from "./protocol.js"
import { makeTaskRegistry, type Task, type TaskRegistry } from "./TaskRegistry.js"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** How long a 2025-11-25 `tasks/cancel` waits for the work to stop before it answers (TERM, grace, KILL). */
const CANCEL_WAIT_MS = 15_000
/** Tasks per `tasks/list` page. */
const LIST_PAGE = 100
/** `tasks/result` requests waiting at once, all sessions. */
const MAX_RESULT_WAITS = 256

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
  /** 2025-11-25 `tasks/result` requests waiting for their task's end. */
  #waiting = 0

  /**
   * @param registry the process's tasks
   * @param tools the tools that allow tasks, by name: `"job"` when the task is the call's job
   */
  constructor(readonly registry: TaskRegistry, readonly tools: ReadonlyMap<string, "job" | "own">) {
    this.listens = new TaskListens(registry)
  }

  /**
   * Serve the extension on `mcp`: after its tools are registered (`registered`: what
   * `registerTool` returned, by name), before it connects.
   */
  attach(mcp: McpServer, registered: ReadonlyMap<string, RegisteredTool>): void {
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
        ? this.#toolsCall(mcp, callTool, request, ctx)
        : previous !== undefined
        ? previous(request, ctx)
        : Promise.reject(new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found"))

    server.setRequestHandler("tasks/get", { params: TaskIdParams }, (params, ctx) => {
      const { task, wire } = this.#find(params.taskId, ctx)
      if (wire === "2025") this.#push(mcp, task)
      const view = this.registry.view(task)
      return wire === "2026" ? detailedTask(view) : task2025(view)
    })

    server.setRequestHandler("tasks/update", { params: TaskIdParams }, (params, ctx) => {
      // 2025-11-25 has no tasks/update: its questions are pushed (see #toolsCall).
      if (requestCapabilities(ctx) === undefined) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found")
      const { task } = this.#find(params.taskId, ctx)
      const responses = ctx.mcpReq.inputResponses
      const answers = new Map<string, ElicitAnswer>()
      for (const key of Object.keys(isRecord(responses) ? responses : {})) {
        const view = inputResponse(responses, key)
        if (view.kind === "elicit") answers.set(key, { action: view.action, ...(view.content !== undefined ? { content: view.content } : {}) })
      }
      this.registry.answer(task, answers)
      return {}
    })

    server.setRequestHandler("tasks/cancel", { params: TaskIdParams }, async (params, ctx) => {
      const { task, wire } = this.#find(params.taskId, ctx)
      this.registry.cancel(task)
      if (wire === "2026") return {}
      // 2025-11-25 answers with the task: wait (boundedly) until it has stopped.
      await Promise.race([task.ended, new Promise((resolve) => setTimeout(resolve, CANCEL_WAIT_MS).unref())])
      return task2025(this.registry.view(task))
    })

    // 2025-11-25 only (the 2026-07-28 wire has no such methods: the SDK refuses them there).
    server.setRequestHandler("tasks/result", { params: TaskIdParams }, async (params, ctx) => {
      const { task } = this.#find(params.taskId, ctx)
      if (this.#waiting >= MAX_RESULT_WAITS) {
        throw new ProtocolError(ProtocolErrorCode.InternalError, `${MAX_RESULT_WAITS} tasks/result requests are waiting already; poll tasks/get, then ask again`)
      }
      // Waits for the end, putting the task's questions to the client meanwhile.
      this.#waiting++
      const unsubscribe = this.registry.subscribe((t) => t === task && this.#push(mcp, task))
      this.#push(mcp, task)
      await new Promise<void>((resolve, reject) => {
        const gone = () => reject(new ProtocolError(ProtocolErrorCode.InternalError, "tasks/result was cancelled"))
        if (ctx.mcpReq.signal.aborted) return gone()
        ctx.mcpReq.signal.addEventListener("abort", gone, { once: true })
        void task.ended.then(() => {
          ctx.mcpReq.signal.removeEventListener("abort", gone)
          resolve()
        })
      }).finally(() => {
        this.#waiting--
        unsubscribe()
      })
      if (task.status === "completed" && task.result !== undefined) {
        return { ...task.result, _meta: { ...task.result._meta, [RELATED_TASK_META_KEY]: { taskId: task.id } } }
      }
      if (task.status === "failed" && task.error !== undefined) throw new ProtocolError(task.error.code, task.error.message)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task ${JSON.stringify(task.id)} was cancelled: it has no result`)
    })

    server.setRequestHandler("tasks/list", { params: ListParams }, (params, ctx) => {
      if (requestCapabilities(ctx) !== undefined) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, "Method not found")
      const all = this.registry.all()
      const from = params.cursor === undefined ? 0 : Number.parseInt(params.cursor, 10)
      if (!Number.isInteger(from) || from < 0) throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid params: cursor")
      const page = all.slice(from, from + LIST_PAGE).map((t) => task2025(this.registry.view(t)))
      return { tasks: page, ...(from + LIST_PAGE < all.length ? { nextCursor: String(from + LIST_PAGE) } : {}) }
    })

    server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} }, tasks: TASKS_CAPABILITY_2025 })
    // 2025-11-25 clients call a tool as a task only when tools/list says it may be one (2026-07-28 drops the field).
    for (const name of this.tools.keys()) {
      const tool = registered.get(name)
      if (tool !== undefined) tool.execution = { taskSupport: "optional" }
    }
  }

  /** A `tools/call`: McpServer's answer, or a task handle once the call becomes a task. */
  async #toolsCall(mcp: McpServer, callTool: RequestHandler, request: JSONRPCRequest, ctx: ServerContext): Promise<Result> {
    const params = isRecord(request.params) ? request.params : {}
    const name = params.name
    const kind = typeof name === "string" ? this.tools.get(name) : undefined
    const capabilities = requestCapabilities(ctx)
    // 2026-07-28: the request's capabilities declare the extension. 2025-11-25: the request is task-augmented.
    const wire = capabilities !== undefined ? (declaresTasks(capabilities) ? "2026" : undefined) : isRecord(params.task) ? "2025" : undefined
    if (kind === undefined || typeof name !== "string" || wire === undefined) return callTool(request, ctx)
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
    const pending = new PendingCall(this.registry, { name, kind }, reservation, ctx, wire === "2026"
      ? { canAsk: declaresForms(capabilities) }
      // A task-augmented request is a task at once; its questions are pushed when the client polls it.
      : { canAsk: declaresForms(mcp.server.getClientCapabilities()), afterMs: 0 })
    const running = callTool(request, ctx).then(
      (result) => ({ result }),
      (error: unknown) => ({ error })
    )
    const finish = (task: Task, outcome: { readonly result: Result } | { readonly error: unknown }) => {
      // McpServer's handler answers a tools/call; a task asks through its own questions, never with input_required.
      const result = "result" in outcome && isCallToolResult(outcome.result) ? outcome.result : undefined
      this.registry.finish(
        task,
        result !== undefined ? { result } : { error: asTaskError("error" in outcome ? outcome.error : undefined) },
        task.cancelRequested && (result === undefined || isCancelled(result))
      )
    }
    const first = await Promise.race([running, pending.promoted.then((task) => ({ task }))])
    if (!("task" in first)) {
      const made = pending.discard()
      if (made !== undefined) finish(made, first)
      if ("error" in first) throw first.error
      return first.result
    }
    const task = first.task
    void running.then((outcome) => finish(task, outcome))
    const view = this.registry.view(task)
    return wire === "2026" ? createTaskResult(view) : { task: task2025(view) }
  }

  /**
   * 2025-11-25: put the task's outstanding questions to the client as `elicitation/create`
   * requests related to the task, each once, when the client polls it (so that it knows the
   * task by then). A question the client cannot answer (it went away) is cancelled.
   */
  #push(mcp: McpServer, task: Task): void {
    for (const { key, form } of this.registry.view(task).questions) {
      if (task.pushed.has(key)) continue
      task.pushed.add(key)
      const answer = (a: ElicitAnswer) => this.registry.answer(task, new Map([[key, a]]))
      mcp.server.elicitInput({
        mode: "form",
        message: form.message,
        requestedSchema: form.requestedSchema,
        _meta: { [RELATED_TASK_META_KEY]: { taskId: task.id } }
      }).then(
        (r) => answer({ action: r.action, ...(r.content !== undefined ? { content: r.content } : {}) }),
        () => answer({ action: "cancel" })
      )
    }
  }

  /**
   * The task `taskId` and the wire the request speaks, or the JSON-RPC error the extension
   * prescribes. A 2026-07-28 request must declare the extension; a 2025-era one is the
   * 2025-11-25 experimental tasks.
   */
  #find(taskId: string, ctx: ServerContext): { readonly task: Task; readonly wire: "2025" | "2026" } {
    const capabilities = requestCapabilities(ctx)
    if (capabilities !== undefined && !declaresTasks(capabilities)) throw missingCapability()
    const found = this.registry.find(taskId)
    if (found === undefined || found === "expired") {
      throw noSuchTask(taskId, found === "expired" ? "expired" : "unknown", this.registry.keepSec, this.registry.endedAs(taskId))
    }
    return { task: found, wire: capabilities === undefined ? "2025" : "2026" }
  }
}

/** The tools that allow tasks, by name, and how (`Tool.task`). */
const taskKinds = new Map(tools.flatMap((t) => t.use((tool) => tool.task === undefined ? [] : [[tool.name, tool.task] as const])))

/** The extension for one serving scope (a registry of its own), over the server's tools. */
export const makeTasksExtension = Effect.map(makeTaskRegistry, (registry) => new TasksExtension(registry, taskKinds))
