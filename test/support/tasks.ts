/**
 * A Tasks requester that is not ours: `@modelcontextprotocol/ext-tasks`' client session over
 * an SDK 2.x client pinned to 2026-07-28, against the built server over stdio or HTTP.
 *
 * The package needs two things from its host for a 2026-07-28 Tasks server (its README):
 * `rawDispatch`, because the SDK client's codecs reject the task wire shapes, and
 * `v2RequestFraming`, the per-request `_meta` envelope the SDK would otherwise add. The raw
 * dispatch here is a small request coordinator on the client's own transport: it sends the
 * framed request with an id of its own and takes that id's response before the SDK client
 * sees it (the transport adds the HTTP headers a 2026-07-28 request needs, `Mcp-Method`,
 * `Mcp-Name`, from the body).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { PassThrough } from "node:stream"
import { Client, type JSONRPCMessage, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import {
  createApplicationInputHandler,
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type TaskEnabledSession
} from "@modelcontextprotocol/ext-tasks/client"
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core"
import { MAIN } from "./main.ts"
import { spawnHttp } from "./rawHttp.ts"

export const MODERN = "2026-07-28"
export const TASKS = "io.modelcontextprotocol/tasks"
const CLIENT_INFO = { name: "mcp-ssh-live-tasks-tests", version: "0.0.0" }

/** An elicitation the server put to the user through a task or a call. */
export type ElicitHandler = (params: Readonly<Record<string, JsonValue>>) => Promise<{ action: "accept" | "decline" | "cancel"; content?: Record<string, string> }>

export interface TasksClientOptions {
  readonly transport: "stdio" | "http"
  /**
   * `2026`: the extension on 2026-07-28 (default). `2025`: the 2025-11-25 experimental tasks,
   * the requester's v1 (initialize, `capabilities.tasks`, `tasks/result`).
   */
  readonly wire?: "2026" | "2025"
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  readonly home?: string
  /** Declare form elicitation in the per-request capabilities (default true). */
  readonly forms?: boolean
  /** Answers questions (default: cancel, which the package does on its own). */
  readonly onElicit?: ElicitHandler
  /** Connect to a server already listening (HTTP) instead of starting one. */
  readonly connect?: { readonly url: string; readonly token: string }
}

export interface TasksClient {
  readonly client: Client
  readonly session: TaskEnabledSession
  /** A request straight to the server (tasks/get by hand, …), framed for 2026-07-28 unless `wire: "2025"`; `tasks: false` leaves the extension out. */
  raw(method: string, params: Record<string, JsonValue>, options?: { readonly tasks?: boolean }): Promise<JsonRpcResponse>
  readonly http?: { readonly url: string; readonly token: string }
  /** Every notification the server sent, in order. */
  readonly notifications: ReadonlyArray<JSONRPCMessage>
  /** Send a message as is (e.g. `notifications/cancelled`). */
  send(message: JSONRPCMessage): Promise<void>
  stderr(): string
  close(): Promise<void>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Send raw JSON-RPC requests on `transport` and take their responses before the SDK client does. */
const coordinator = (
  transport: { onmessage?: ((message: JSONRPCMessage) => void) | undefined; send(message: JSONRPCMessage): Promise<void> },
  notifications: Array<JSONRPCMessage>
) => {
  const pending = new Map<string, (response: JsonRpcResponse) => void>()
  const sdkOnMessage = transport.onmessage
  transport.onmessage = (message) => {
    if ("method" in message && !("id" in message)) notifications.push(message)
    const id = isRecord(message) && "id" in message ? message.id : undefined
    const resolve = typeof id === "string" ? pending.get(id) : undefined
    if (resolve === undefined || !isRecord(message)) return sdkOnMessage?.(message)
    pending.delete(id as string)
    if ("error" in message) {
      const e = message.error
      resolve({
        kind: "error",
        error: { code: Number(e.code), message: String(e.message), ...(e.data !== undefined ? { data: e.data as JsonValue } : {}) }
      })
    } else if ("result" in message) {
      resolve({ kind: "result", result: message.result as JsonValue })
    }
  }
  let next = 0
  return (request: JsonValue): Promise<JsonRpcResponse> => {
    if (!isRecord(request)) return Promise.reject(new Error("raw dispatch: not a request"))
    const id = `raw-${++next}`
    const response = new Promise<JsonRpcResponse>((resolve) => pending.set(id, resolve))
    const method = request.method
    if (typeof method !== "string") return Promise.reject(new Error("raw dispatch: no method"))
    const params = isRecord(request.params) ? request.params : undefined
    return transport.send({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) }).then(() => response)
  }
}

/** The envelope a 2026-07-28 request carries. */
const frame = (method: string, params: Record<string, JsonValue>, capabilities: Record<string, JsonValue>) => ({
  method,
  params: {
    ...params,
    _meta: {
      "io.modelcontextprotocol/protocolVersion": MODERN,
      "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
      "io.modelcontextprotocol/clientCapabilities": capabilities
    }
  }
})

export const startTasksClient = async (options: TasksClientOptions): Promise<TasksClient> => {
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: process.env.USER ?? "root", ...options.env }
  const forms = options.forms ?? true
  const capabilities: Record<string, JsonValue> = forms ? { elicitation: { form: {} } } : {}
  const modern = options.wire !== "2025"
  const client = new Client(CLIENT_INFO, {
    capabilities: { ...(forms ? { elicitation: { form: {} } } : {}), extensions: { [TASKS]: {} } },
    ...(modern ? { versionNegotiation: { mode: { pin: MODERN } } } : {})
  })
  let transport: StdioClientTransport | StreamableHTTPClientTransport
  let stderr: () => string
  let stop: () => Promise<void> = async () => undefined
  let http: { url: string; token: string } | undefined
  if (options.connect !== undefined) {
    http = options.connect
    transport = new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { Authorization: `Bearer ${http.token}` } } })
    stderr = () => ""
  } else if (options.transport === "http") {
    const server = await spawnHttp(options.args ?? [], { env, home })
    http = { url: server.url, token: server.token }
    transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${server.token}` } } })
    stderr = server.stderr
    stop = () => server.close()
  } else {
    const t = new StdioClientTransport({ command: process.execPath, args: [MAIN, ...(options.args ?? [])], env, stderr: "pipe" })
    let text = ""
    ;(t.stderr as PassThrough | null)?.on("data", (d: Buffer) => {
      text += d.toString()
    })
    transport = t
    stderr = () => text
  }
  await client.connect(transport)
  const notifications: Array<JSONRPCMessage> = []
  const dispatch = coordinator(transport, notifications)
  const onElicit = options.onElicit
  const session = createTaskSessionFromClient(client, {
    endpointId: `mcp-ssh-live-${options.transport}`,
    ...(modern
      ? { rawDispatch: dispatch, v2RequestFraming: { protocolVersion: MODERN, clientInfo: CLIENT_INFO, clientCapabilities: capabilities } }
      : {}),
    ...(onElicit !== undefined
      ? {
        onInputRequest: createApplicationInputHandler({
          elicitation: (request) => onElicit(request.params),
          sampling: () => Promise.reject(new Error("unexpected sampling request")),
          roots: () => Promise.reject(new Error("unexpected roots request"))
        })
      }
      : {})
  })
  return {
    client,
    session,
    raw: (method, params, rawOptions) =>
      modern
        ? dispatch(frame(method, params, rawOptions?.tasks === false ? capabilities : { ...capabilities, extensions: { [TASKS]: {} } }))
        : dispatch({ method, params }),
    ...(http !== undefined ? { http } : {}),
    notifications,
    send: (message) => transport.send(message),
    stderr,
    close: async () => {
      await session.close().catch(() => undefined)
      await client.close().catch(() => undefined)
      await stop()
    }
  }
}
