/**
 * The tasks of this server, whatever transport, session or McpServer instance made them:
 * one registry per process (`makeTaskRegistry` in the serving scope), so a task made over
 * one HTTP session or request is found by `tasks/get` from any later one.
 *
 * Bounded: at most `max_jobs` tasks are held (live and finished); a live task beyond that
 * is refused, a finished one is forgotten first (oldest first). One retention rule: a
 * finished task is kept for `reap_finished_after_sec` after it ended (as long as the record
 * of the job behind it), then forgotten; its id is remembered (boundedly) so that `tasks/get`
 * can say it expired rather than that it never was.
 *
 * @since 0.2.0
 */
import type { CallToolResult } from "@modelcontextprotocol/server"
import { Clock, Effect, Schedule } from "effect"
import { AppConfig } from "../../domain/AppConfig.js"
import type { ElicitAnswer, ElicitForm } from "../tools/Tool.js"
import { isTerminal, type TaskError, type TaskStatus, type TaskView } from "./protocol.js"

/** Status messages are for a person or a model to glance at: one line, this long at most. */
const MAX_MESSAGE = 300
/** Jobs named in a status message at most (ssh_exec_many's). */
const MAX_NAMED = 4

interface Question {
  readonly key: string
  readonly form: ElicitForm
  readonly answer: (answer: ElicitAnswer) => void
}

/** One task: mutated only through the registry, which tells listeners of every change. */
export class Task {
  status: TaskStatus = "working"
  message: string | undefined = undefined
  lastUpdatedAt: number
  endedAt: number | undefined = undefined
  result: CallToolResult | undefined = undefined
  error: TaskError | undefined = undefined
  cancelRequested = false
  readonly questions = new Map<string, Question>()
  questionsAsked = 0
  /** Questions already pushed to the client as `elicitation/create` (2025-11-25 wire). */
  readonly pushed = new Set<string>()
  readonly named: Array<string> = []
  #markEnded: () => void = () => undefined
  /** Settles once the task is terminal. */
  readonly ended = new Promise<void>((resolve) => {
    this.#markEnded = resolve
  })

  constructor(
    readonly id: string,
    readonly tool: string,
    readonly createdAt: number,
    /** Stops the work (TERM → grace → KILL of a job's process group). */
    readonly abort: () => void
  ) {
    this.lastUpdatedAt = createdAt
  }

  /** Called by the registry when the task becomes terminal. */
  markEnded(): void {
    this.#markEnded()
  }

  get live(): boolean {
    return !isTerminal(this.status)
  }
}

export interface TaskRegistryOptions {
  readonly now: () => number
  /** A call becomes a task after running this long. */
  readonly afterMs: number
  /** Finished tasks are kept this long. */
  readonly keepSec: number
  /** Tasks held at most, live and finished. */
  readonly maxTasks: number
}

/** A place for a task, taken before the call runs (see `reserve`). */
export interface Reservation {
  release(): void
}

export class TaskRegistry {
  readonly #tasks = new Map<string, Task>()
  /** Ids of forgotten tasks (oldest first) with how each ended, so that an expired id is told from an unknown one. */
  readonly #expired = new Map<string, string>()
  readonly #listeners = new Set<(task: Task) => void>()
  /** Calls running that may become tasks: they count as live tasks. */
  #reserved = 0

  constructor(readonly options: TaskRegistryOptions) {}

  get afterMs(): number {
    return this.options.afterMs
  }

  get keepSec(): number {
    return this.options.keepSec
  }

  #live(): number {
    let n = this.#reserved
    for (const t of this.#tasks.values()) if (t.live) n++
    return n
  }

  /** A place for a call that may become a task, or undefined when `max_jobs` live tasks are held. */
  reserve(): Reservation | undefined {
    if (this.#live() >= this.options.maxTasks) return undefined
    this.#reserved++
    let held = true
    return {
      release: () => {
        if (held) this.#reserved--
        held = false
      }
    }
  }

  /** A new task (working) in place of `reservation`; finished ones go first if the registry is full. */
  create(id: string, tool: string, reservation: Reservation, abort: () => void): Task {
    reservation.release()
    if (this.#tasks.size >= this.options.maxTasks) {
      for (const t of this.#tasks.values()) {
        if (this.#tasks.size < this.options.maxTasks) break
        if (!t.live) this.#forget(t)
      }
    }
    const task = new Task(id, tool, this.options.now(), abort)
    this.#tasks.set(id, task)
    this.#changed(task)
    return task
  }

  /** Every task held, oldest first. */
  all(): ReadonlyArray<Task> {
    return [...this.#tasks.values()]
  }

  /** The task, "expired" when it was forgotten, undefined when there never was one. */
  find(id: string): Task | "expired" | undefined {
    return this.#tasks.get(id) ?? (this.#expired.has(id) ? "expired" : undefined)
  }

  /** How a forgotten task ended, in a few words (`completed (exited, exit_status 3) at …`). */
  endedAs(id: string): string | undefined {
    return this.#expired.get(id)
  }

  view(task: Task): TaskView {
    const age = this.options.now() - task.createdAt
    return {
      taskId: task.id,
      status: task.status,
      statusMessage: this.#statusMessage(task),
      createdAt: task.createdAt,
      lastUpdatedAt: task.lastUpdatedAt,
      expiresAt: task.endedAt === undefined ? null : task.endedAt + this.options.keepSec * 1000,
      // Early on a result may be seconds away; a long job needs no close watch.
      pollIntervalMs: task.live ? (age < 30_000 ? 1000 : 3000) : 5000,
      questions: [...task.questions.values()].map(({ form, key }) => ({ key, form })),
      result: task.result,
      error: task.error
    }
  }

  #statusMessage(task: Task): string | undefined {
    const named = task.named.length === 0
      ? ""
      : ` [jobs: ${task.named.slice(0, MAX_NAMED).join(", ")}${task.named.length > MAX_NAMED ? ` +${task.named.length - MAX_NAMED} more` : ""}]`
    const text = `${task.message ?? ""}${named}`.trim()
    if (text === "") return undefined
    return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text
  }

  /** The newest progress (a job's newest line, a transfer's bytes …). */
  progress(task: Task, message: string): void {
    if (!task.live || task.message === message) return
    task.message = message.replace(/\s+/g, " ")
    this.#changed(task)
  }

  /** A job the task runs was listed under `jobId` (ssh_exec_many's hosts). */
  name(task: Task, label: string, jobId: string): void {
    task.named.push(`${label} ${jobId}`)
    this.#changed(task)
  }

  /**
   * Ask the human `form` through the task (`input_required` until answered); `answer` is
   * called once with the reply. Returns the question's key and a function that withdraws it.
   */
  ask(task: Task, form: ElicitForm, answer: (answer: ElicitAnswer) => void): { readonly key: string; readonly withdraw: () => void } {
    // Keys are never reused in a task's life, as the extension requires.
    const key = `q${++task.questionsAsked}`
    task.questions.set(key, { key, form, answer })
    task.status = "input_required"
    this.#changed(task)
    return {
      key,
      withdraw: () => {
        if (!task.questions.delete(key)) return
        if (task.questions.size === 0 && task.status === "input_required") task.status = "working"
        this.#changed(task)
      }
    }
  }

  /** `tasks/update`: answers to outstanding questions are taken, others ignored. */
  answer(task: Task, answers: ReadonlyMap<string, ElicitAnswer>): void {
    for (const [key, answer] of answers) {
      const question = task.questions.get(key)
      if (question === undefined) continue
      task.questions.delete(key)
      question.answer(answer)
    }
    if (task.questions.size === 0 && task.status === "input_required") {
      task.status = "working"
      this.#changed(task)
    }
  }

  /** `tasks/cancel`: stop the work; the task is `cancelled` once it has stopped (unless it finished first). */
  cancel(task: Task): void {
    if (!task.live || task.cancelRequested) return
    task.cancelRequested = true
    task.abort()
  }

  /** The call behind the task ended with `result` (or a JSON-RPC `error`). */
  finish(task: Task, outcome: { readonly result: CallToolResult } | { readonly error: TaskError }, cancelled: boolean): void {
    if (!task.live) return
    task.questions.clear()
    if (cancelled) {
      task.status = "cancelled"
      task.message = "cancelled"
    } else if ("result" in outcome) {
      task.status = "completed"
      task.result = outcome.result
    } else {
      task.status = "failed"
      task.error = outcome.error
      task.message = outcome.error.message
    }
    task.endedAt = this.options.now()
    this.#changed(task)
    task.markEnded()
  }

  /** Every change of every task (for `notifications/tasks`); returns the unsubscribe. */
  subscribe(listener: (task: Task) => void): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  #changed(task: Task): void {
    task.lastUpdatedAt = this.options.now()
    for (const listener of this.#listeners) listener(task)
  }

  #forget(task: Task): void {
    this.#tasks.delete(task.id)
    this.#expired.set(task.id, endedAs(task))
    // Remembered as long as a task could be held, no longer.
    for (const id of this.#expired.keys()) {
      if (this.#expired.size <= this.options.maxTasks * 4) break
      this.#expired.delete(id)
    }
  }

  /** Forget the tasks that finished more than `keepSec` ago. */
  reap(): void {
    const cutoff = this.options.now() - this.options.keepSec * 1000
    for (const task of [...this.#tasks.values()]) {
      if (task.endedAt !== undefined && task.endedAt <= cutoff) this.#forget(task)
    }
  }

  /** Stop every live task (the server is shutting down). */
  stopAll(): void {
    for (const task of this.#tasks.values()) if (task.live) this.cancel(task)
  }
}

/** A forgotten task's end in one short line: its status, a job's exit, or the error. */
const endedAs = (task: Task): string => {
  const at = task.endedAt === undefined ? "" : ` at ${new Date(task.endedAt).toISOString()}`
  if (task.status !== "completed") {
    const why = task.status === "failed" && task.error !== undefined ? `: ${task.error.message.slice(0, 160)}` : ""
    return `${task.status}${at}${why}`
  }
  const content = task.result?.structuredContent
  const result: Readonly<Record<string, unknown>> | undefined = typeof content === "object" && content !== null
    ? content as Readonly<Record<string, unknown>>
    : undefined
  const job = [
    typeof result?.status === "string" ? result.status : undefined,
    typeof result?.exit_status === "number" ? `exit_status ${result.exit_status}` : undefined,
    typeof result?.signal === "string" ? `SIG${result.signal}` : undefined
  ].filter((part) => part !== undefined)
  return `completed${job.length === 0 ? "" : ` (${job.join(", ")})`}${at}${task.result?.isError === true ? " with an error result" : ""}`
}

/** The registry for one serving scope: reaped on the jobs' schedule, its live tasks stopped when the scope closes. */
export const makeTaskRegistry = Effect.gen(function*() {
  const config = yield* AppConfig
  const clock = yield* Clock.Clock
  const limits = config.limits
  const registry = new TaskRegistry({
    now: () => clock.currentTimeMillisUnsafe(),
    afterMs: limits.taskAfterMs,
    keepSec: limits.reapFinishedAfterSec,
    maxTasks: limits.maxJobs
  })
  yield* Effect.forkScoped(Effect.repeat(
    Effect.sync(() => registry.reap()),
    Schedule.spaced(`${Math.max(1, Math.min(30, limits.reapFinishedAfterSec))} seconds`)
  ))
  yield* Effect.addFinalizer(() => Effect.sync(() => registry.stopAll()))
  return registry
})
