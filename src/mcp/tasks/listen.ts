/**
 * `notifications/tasks` for clients that listen (`subscriptions/listen` with
 * `notifications.taskIds`, 2026-07-28). SDK 2.4's listen routers (stdio and HTTP) honour only
 * the core filters and drop any other, so a listen request naming task ids is served here,
 * ahead of the SDK: over HTTP as an SSE response of its own (http.ts), over stdio on the
 * connection (serve.ts). Such a listen is about tasks only: its acknowledgement names the
 * task ids honoured (known ones) and nothing else; a client that also wants list or resource
 * changes listens for those separately.
 *
 * What is sent: the acknowledgement, then each honoured task as `tasks/get` would show it,
 * then the task again at each change of status (the terminal one carries the result).
 * Status messages alone do not notify (`tasks/get` reads them). Bounded: 64 listens at once,
 * 1 000 task ids each.
 *
 * @since 0.2.0
 */
import { CLIENT_CAPABILITIES_META_KEY, type JSONRPCMessage, type RequestId, SUBSCRIPTION_ID_META_KEY } from "@modelcontextprotocol/server"
import type { StdioServerTransport } from "@modelcontextprotocol/server/stdio"
import { declaresTasks, detailedTask, TASKS_EXTENSION } from "./protocol.js"
import type { TaskRegistry } from "./TaskRegistry.js"

const MAX_LISTENS = 64
const MAX_IDS = 1000

type Id = RequestId
type Outbound = JSONRPCMessage

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The task ids a `subscriptions/listen` request asks for; undefined when it is not a listen for tasks. */
export const listenTaskIds = (message: unknown): { readonly id: Id; readonly taskIds: ReadonlyArray<unknown>; readonly capabilities: unknown } | undefined => {
  if (!isRecord(message) || message.method !== "subscriptions/listen") return undefined
  const id = message.id
  if (typeof id !== "string" && typeof id !== "number") return undefined
  const params = isRecord(message.params) ? message.params : {}
  const notifications = isRecord(params.notifications) ? params.notifications : {}
  if (!Array.isArray(notifications.taskIds)) return undefined
  const meta = isRecord(params._meta) ? params._meta : {}
  return { id, taskIds: notifications.taskIds, capabilities: meta[CLIENT_CAPABILITIES_META_KEY] }
}

const error = (id: Id, code: number, message: string, data?: unknown): JSONRPCMessage => ({
  jsonrpc: "2.0",
  id,
  error: { code, message, ...(data !== undefined ? { data } : {}) }
})

export class TaskListens {
  #open = 0

  constructor(readonly registry: TaskRegistry) {}

  /**
   * Serve a listen for tasks (see `listenTaskIds`): `send` gets the acknowledgement and the
   * notifications, or the one error response. Returns the function that ends it (the client
   * cancelled, or went away); undefined when it was refused (the error is sent).
   */
  serve(listen: NonNullable<ReturnType<typeof listenTaskIds>>, send: (message: Outbound) => void): (() => void) | undefined {
    const { id } = listen
    if (!declaresTasks(isRecord(listen.capabilities) ? listen.capabilities : undefined)) {
      send(error(id, -32021, `Missing required client capability: declare the ${TASKS_EXTENSION} extension in the request's capabilities`, {
        requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } }
      }))
      return undefined
    }
    if (!listen.taskIds.every((t) => typeof t === "string") || listen.taskIds.length > MAX_IDS) {
      send(error(id, -32602, `Invalid params: notifications.taskIds must be at most ${MAX_IDS} strings`))
      return undefined
    }
    if (this.#open >= MAX_LISTENS) {
      send(error(id, -32603, "Subscription limit reached"))
      return undefined
    }
    const stamp = (method: string, params: Record<string, unknown>): Outbound => ({
      jsonrpc: "2.0",
      method,
      params: { ...params, _meta: { [SUBSCRIPTION_ID_META_KEY]: id } }
    })
    const honoured = new Map<string, string>()
    for (const taskId of listen.taskIds as ReadonlyArray<string>) {
      const task = this.registry.find(taskId)
      if (task !== undefined && task !== "expired") honoured.set(taskId, task.status)
    }
    this.#open++
    send(stamp("notifications/subscriptions/acknowledged", { notifications: { taskIds: [...honoured.keys()] } }))
    for (const taskId of honoured.keys()) {
      const task = this.registry.find(taskId)
      if (task !== undefined && task !== "expired") send(stamp("notifications/tasks", detailedTask(this.registry.view(task))))
    }
    const unsubscribe = this.registry.subscribe((task) => {
      const last = honoured.get(task.id)
      if (last === undefined || last === task.status) return
      honoured.set(task.id, task.status)
      send(stamp("notifications/tasks", detailedTask(this.registry.view(task))))
    })
    let open = true
    return () => {
      if (!open) return
      open = false
      this.#open--
      unsubscribe()
    }
  }
}

/** A listen for tasks over HTTP: an SSE response of its own; undefined when `body` is not one. */
export const listenOverHttp = (listens: TaskListens, body: unknown): Response | undefined => {
  const listen = listenTaskIds(body)
  if (listen === undefined) return undefined
  const buffered: Array<Outbound> = []
  let push: ((message: Outbound) => void) | undefined
  const stop = listens.serve(listen, (message) => (push === undefined ? buffered.push(message) : push(message)))
  if (stop === undefined) return Response.json(buffered[0])
  const encoder = new TextEncoder()
  const frame = (message: Outbound) => encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      for (const message of buffered) controller.enqueue(frame(message))
      push = (message) => {
        try {
          controller.enqueue(frame(message))
        } catch {
          stop()
        }
      }
    },
    // The client closed the stream: that ends the listen (2026-07-28 over HTTP).
    cancel: () => stop()
  })
  return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } })
}

/**
 * Serve listens for tasks on a stdio connection, ahead of the handler `serveStdio` set:
 * `notifications/cancelled` naming a listen ends it; everything else goes on to the SDK.
 */
export const listenOverStdio = (listens: TaskListens, wire: StdioServerTransport): void => {
  const served = new Map<Id, () => void>()
  const sdk = wire.onmessage
  const send = (message: Outbound) => void wire.send(message).catch(() => undefined)
  wire.onmessage = (message) => {
    const listen = listenTaskIds(message)
    if (listen !== undefined) {
      const stop = listens.serve(listen, send)
      if (stop !== undefined) served.set(listen.id, stop)
      return
    }
    if ("method" in message && message.method === "notifications/cancelled" && isRecord(message.params)) {
      const requestId = message.params.requestId
      if (typeof requestId === "string" || typeof requestId === "number") {
        const stop = served.get(requestId)
        if (stop !== undefined) {
          served.delete(requestId)
          return stop()
        }
      }
    }
    sdk?.(message)
  }
}
