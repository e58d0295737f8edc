/**
 * One `tools/call` that may become a task. The extension's `tools/call` wrapper makes it
 * for a request that declares the extension, for a tool that allows tasks (`Tool.task`);
 * register.ts finds it through the request's context (`taskCallOf`) and runs the tool with
 * what it offers: a signal of its own (a task outlives the request that made it), a
 * `TaskContext`, questions asked through the task, progress that feeds the task's status.
 *
 * It becomes a task (`promote`) when its job is listed (`task: "job"` tools, after
 * `afterMs`), when its time is up (`task: "own"`), or when it asks the human something
 * (the question is the task's `input_required`, answered with `tasks/update`).
 *
 * @since 0.2.0
 */
import { randomBytes } from "node:crypto"
import type { ServerContext } from "@modelcontextprotocol/server"
import { Effect } from "effect"
import type { ElicitAnswer, TaskContext, ToolContext } from "../tools/Tool.js"
import type { Reservation, Task, TaskRegistry } from "./TaskRegistry.js"

/** What register.ts runs a call with when it may become a task. */
export interface TaskCallHook {
  /** The run's signal: the request's until the call is a task, then only `tasks/cancel`'s. */
  readonly signal: AbortSignal
  readonly context: TaskContext
  /** Ask through the task; undefined when the request cannot answer forms. */
  readonly elicit: ToolContext["elicit"]
  /** The call's progress: to the client (if it asked) until the call is a task, then the task's status message. */
  progress(send: ToolContext["progress"]): ToolContext["progress"]
}

/** Keyed by the request's abort signal: the one object the SDK hands on unchanged through every context copy. */
const hooks = new WeakMap<AbortSignal, TaskCallHook>()

/** The pending task call of this `tools/call`, if it may become a task. */
export const taskCallOf = (ctx: ServerContext): TaskCallHook | undefined => hooks.get(ctx.mcpReq.signal)

/** A status line from a progress report: a count first when the message does not carry it. */
const statusLine = (progress: number, message: string | undefined, total: number | undefined): string =>
  message === undefined
    ? total === undefined ? `${progress}` : `${progress} / ${total}`
    : total !== undefined && !message.includes(String(total))
    ? `${progress}/${total} done; ${message}`
    : message

/** 64 random bits: a task id is the handle to its result, so it cannot be guessed. */
const newId = (prefix: string) => `${prefix}-${randomBytes(8).toString("hex")}`

export class PendingCall {
  /** The task's id, chosen up front so that a `task: "job"` call's job can take it. */
  readonly id: string
  readonly #registry: TaskRegistry
  readonly #tool: string
  readonly #reservation: Reservation
  readonly #controller = new AbortController()
  readonly #requestSignal: AbortSignal
  #task: Task | undefined = undefined
  #message: string | undefined = undefined
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  #resolvePromoted: (task: Task) => void = () => undefined
  /** Settles when the call becomes a task. */
  readonly promoted = new Promise<Task>((resolve) => {
    this.#resolvePromoted = resolve
  })

  /**
   * @param options.afterMs when the call becomes a task (default: the registry's `task_after_ms`;
   *   0 for a 2025-11-25 task-augmented request, which is a task at once)
   */
  constructor(
    registry: TaskRegistry,
    tool: { readonly name: string; readonly kind: "job" | "own" },
    reservation: Reservation,
    ctx: ServerContext,
    options: {
      readonly canAsk: boolean
      readonly afterMs?: number
    }
  ) {
    this.#registry = registry
    this.#tool = tool.name
    this.#reservation = reservation
    this.id = newId(tool.kind === "job" ? "job" : "task")
    this.#requestSignal = ctx.mcpReq.signal
    // Until the call is a task, cancelling its request cancels it.
    this.#requestSignal.addEventListener("abort", this.#onRequestAbort)
    const afterMs = options.afterMs ?? registry.afterMs
    if (tool.kind === "own") this.#timer = setTimeout(() => this.promote(), afterMs)
    const elicit: ToolContext["elicit"] = options.canAsk
      ? (form) =>
        Effect.callback<ElicitAnswer, Error>((resume) => {
          const { withdraw } = this.#registry.ask(this.promote(), form, (answer) => resume(Effect.succeed(answer)))
          return Effect.sync(withdraw)
        })
      : undefined
    const hook: TaskCallHook = {
      signal: this.#controller.signal,
      context: {
        afterMs,
        jobId: this.id,
        listed: Effect.sync(() => void this.promote()),
        named: (label, jobId) => Effect.sync(() => this.#registry.name(this.promote(), label, jobId))
      },
      elicit,
      progress: (send) => (progress, message, total) => {
        const line = statusLine(progress, message, total)
        const task = this.#task
        if (task === undefined) {
          this.#message = line
          return send(progress, message, total)
        }
        return Effect.sync(() => this.#registry.progress(task, line))
      }
    }
    hooks.set(ctx.mcpReq.signal, hook)
  }

  readonly #onRequestAbort = () => {
    if (this.#task === undefined) this.#controller.abort(this.#requestSignal.reason)
  }

  /** The call as a task (made now if it is not one yet). */
  promote(): Task {
    if (this.#task !== undefined) return this.#task
    this.#cleanup()
    const task = this.#registry.create(this.id, this.#tool, this.#reservation, () => this.#controller.abort())
    this.#task = task
    if (this.#message !== undefined) this.#registry.progress(task, this.#message)
    this.#resolvePromoted(task)
    return task
  }

  /**
   * The call has answered: give its place back. Returns the task if it became one all the
   * same (in the same turn as it answered), so that the task can be finished too.
   */
  discard(): Task | undefined {
    this.#cleanup()
    this.#reservation.release()
    return this.#task
  }

  #cleanup(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#requestSignal.removeEventListener("abort", this.#onRequestAbort)
  }
}
