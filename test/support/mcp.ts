/**
 * Drive the built server (`dist/main.js`) as a subprocess through a real MCP client,
 * as editors do: the SDK 2.x client (2025 handshake, or pinned to 2026-07-28) or the
 * SDK 1.x client most deployed clients still embed, over stdio or Streamable HTTP.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import { spawnHttp } from "./rawHttp.ts"
import { Client } from "@modelcontextprotocol/client"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport as V1StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import {
  ElicitRequestSchema as V1ElicitRequestSchema,
  ListRootsRequestSchema as V1ListRootsRequestSchema,
  LoggingMessageNotificationSchema as V1LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema as V1ResourceUpdatedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"

import { linesOf } from "../../src/mcp/tailText.ts"

export { MAIN } from "./main.ts"
import { MAIN } from "./main.ts"

/** The transports the end-to-end suites run over. */
export const TRANSPORTS = ["stdio", "http"] as const
export type TransportKind = typeof TRANSPORTS[number]

/**
 * The clients: `v2` is `@modelcontextprotocol/client` 2.x with its default (legacy)
 * negotiation, so `initialize` → 2025-11-25; `modern` is the same client pinned to the
 * 2026-07-28 revision (`server/discover`, per-request envelopes, multi-round input);
 * `v1` is `@modelcontextprotocol/sdk` 1.x, which checks every tool result (errors too)
 * against the tool's outputSchema.
 */
export const CLIENT_KINDS = ["v2", "v1", "modern"] as const
export type ClientKind = typeof CLIENT_KINDS[number]

/** The protocol revision the 2026-07-28 client pins. */
export const MODERN_REVISION = "2026-07-28"

export interface MatrixCell {
  readonly transport: TransportKind
  readonly client: ClientKind
  /** For describe names: `stdio/v1`. */
  readonly name: string
}

const cell = (transport: TransportKind, client: ClientKind): MatrixCell => ({ transport, client, name: `${transport}/${client}` })

/** Which (transport, client) pairs the e2e suites run over. Extend here. */
export const CLIENT_MATRIX: ReadonlyArray<MatrixCell> = [
  cell("stdio", "v2"),
  cell("stdio", "v1"),
  cell("stdio", "modern"),
  cell("http", "v2"),
  cell("http", "v1"),
  cell("http", "modern")
]

/**
 * Slow tests that exercise the server, not the client (large transfers, a million
 * lines), run for the first cell only: `if (onFirstCell(m)) it(…)`.
 */
export const onFirstCell = (m: MatrixCell): boolean => m === CLIENT_MATRIX[0]

/** A tool as `tools/list` describes it (the fields the tests read). */
export interface ToolInfo {
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly inputSchema: { readonly type: string; readonly properties?: Record<string, unknown> | undefined; readonly required?: Array<string> | undefined }
  readonly outputSchema?: Readonly<Record<string, unknown>> | undefined
  readonly annotations?: {
    readonly title?: string | undefined
    readonly readOnlyHint?: boolean | undefined
    readonly destructiveHint?: boolean | undefined
    readonly idempotentHint?: boolean | undefined
    readonly openWorldHint?: boolean | undefined
  } | undefined
}

export interface CallToolOptions {
  readonly timeout: number
  readonly signal?: AbortSignal
  readonly onprogress?: (p: { progress: number; message?: string | undefined }) => void
}

export interface CallToolOutcome {
  readonly content: ReadonlyArray<{ readonly type: string; readonly text?: string | undefined }>
  readonly isError?: boolean | undefined
  readonly structuredContent?: Record<string, unknown> | undefined
}

export type NotificationMethod = "notifications/message" | "notifications/resources/updated"
export interface ElicitRequestLike { readonly params: { readonly message: string; readonly requestedSchema?: unknown } }
export type ElicitReply =
  | { action: "accept"; content: Record<string, string | number | boolean | Array<string>> }
  | { action: "decline" | "cancel" }

/** The part of an MCP client the tests use, over either SDK line. */
export interface McpClient {
  readonly kind: ClientKind
  listTools(): Promise<{ tools: ReadonlyArray<ToolInfo> }>
  callTool(params: { name: string; arguments: Record<string, unknown> }, options: CallToolOptions): Promise<CallToolOutcome>
  setLoggingLevel(level: "debug" | "info" | "warning" | "error"): Promise<unknown>
  listResourceTemplates(): Promise<{ resourceTemplates: ReadonlyArray<{ readonly uriTemplate: string }> }>
  listResources(): Promise<{ resources: ReadonlyArray<{ readonly uri: string; readonly name: string; readonly mimeType?: string | undefined }> }>
  subscribeResource(params: { uri: string }): Promise<unknown>
  unsubscribeResource(params: { uri: string }): Promise<unknown>
  readResource(params: { uri: string }): Promise<{ contents: ReadonlyArray<object> }>
  setNotificationHandler(method: NotificationMethod, handler: (n: { params?: unknown }) => void): void
  setRequestHandler(method: "elicitation/create", handler: (request: ElicitRequestLike) => Promise<ElicitReply>): void
  /** Answer the server's `roots/list` with what `roots` returns then (declare `capabilities.roots`). */
  setRoots(roots: () => ReadonlyArray<{ readonly uri: string; readonly name?: string }>): void
  /** `notifications/roots/list_changed`. */
  sendRootsListChanged(): Promise<void>
  /** The protocol revision the session negotiated. */
  protocolVersion(): string | undefined
  close(): Promise<void>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Both SDKs' call results, checked into one shape. */
const toOutcome = (name: string, r: Record<string, unknown>): CallToolOutcome => {
  if (!Array.isArray(r.content)) throw new Error(`${name}: a result without content`)
  const content = r.content.filter(isRecord).map((c) => ({
    type: String(c.type),
    ...(typeof c.text === "string" ? { text: c.text } : {})
  }))
  return {
    content,
    ...(typeof r.isError === "boolean" ? { isError: r.isError } : {}),
    ...(isRecord(r.structuredContent) ? { structuredContent: r.structuredContent } : {})
  }
}

/** The per-request options both SDK lines take alike. */
const requestOptions = (options: CallToolOptions) => ({
  timeout: options.timeout,
  ...(options.signal !== undefined ? { signal: options.signal } : {}),
  ...(options.onprogress !== undefined ? { onprogress: options.onprogress, resetTimeoutOnProgress: true } : {})
})

const v2Adapter = (client: Client, kind: ClientKind): McpClient => ({
  kind,
  listTools: () => client.listTools(),
  callTool: async (params, options) => {
    const r = await client.callTool(params, requestOptions(options))
    return toOutcome(params.name, r)
  },
  setLoggingLevel: (level) => client.setLoggingLevel(level),
  listResourceTemplates: () => client.listResourceTemplates(),
  listResources: () => client.listResources(),
  subscribeResource: (params) => client.subscribeResource(params),
  unsubscribeResource: (params) => client.unsubscribeResource(params),
  readResource: (params) => client.readResource(params),
  setNotificationHandler: (method, handler) => {
    if (method === "notifications/message") client.setNotificationHandler(method, (n) => handler(n))
    else client.setNotificationHandler(method, (n) => handler(n))
  },
  setRequestHandler: (_method, handler) => client.setRequestHandler("elicitation/create", (request) => handler(request)),
  setRoots: (roots) => client.setRequestHandler("roots/list", () => ({ roots: roots().map((r) => ({ ...r })) })),
  sendRootsListChanged: () => client.sendRootsListChanged(),
  protocolVersion: () => client.getNegotiatedProtocolVersion(),
  close: () => client.close()
})

/** The 1.x client tells an HTTP transport the negotiated version; the stdio one records it here. */
class RecordingV1StdioTransport extends V1StdioClientTransport {
  protocolVersion: string | undefined
  setProtocolVersion(version: string): void {
    this.protocolVersion = version
  }
}

const v1Adapter = (client: V1Client, transport: RecordingV1StdioTransport | V1StreamableHTTPClientTransport): McpClient => ({
  kind: "v1",
  listTools: () => client.listTools(),
  callTool: async (params, options) => {
    const r = await client.callTool(params, undefined, requestOptions(options))
    return toOutcome(params.name, r)
  },
  setLoggingLevel: (level) => client.setLoggingLevel(level),
  listResourceTemplates: () => client.listResourceTemplates(),
  listResources: () => client.listResources(),
  subscribeResource: (params) => client.subscribeResource(params),
  unsubscribeResource: (params) => client.unsubscribeResource(params),
  readResource: (params) => client.readResource(params),
  setNotificationHandler: (method, handler) => {
    if (method === "notifications/message") client.setNotificationHandler(V1LoggingMessageNotificationSchema, (n) => handler(n))
    else client.setNotificationHandler(V1ResourceUpdatedNotificationSchema, (n) => handler(n))
  },
  setRequestHandler: (_method, handler) => client.setRequestHandler(V1ElicitRequestSchema, (request) => handler(request)),
  setRoots: (roots) => client.setRequestHandler(V1ListRootsRequestSchema, () => ({ roots: roots().map((r) => ({ ...r })) })),
  sendRootsListChanged: () => client.sendRootsListChanged(),
  protocolVersion: () => transport.protocolVersion,
  close: () => client.close()
})

export interface McpServerProcess {
  readonly client: McpClient
  /** The SDK transport object (e.g. to reach the child process in shutdown tests). */
  readonly transport: object
  /** With http: the endpoint and the bearer token. */
  readonly http?: { readonly url: string; readonly token: string }
  /** Everything the server wrote to stderr so far. */
  stderr(): string
  /** Errors the client transport reported (a non-JSON line on stdout is one). */
  readonly transportErrors: Array<Error>
  /** The fake HOME the server runs with. */
  readonly home: string
  readonly pid: number
  close(): Promise<void>
}

export interface StartOptions {
  readonly transport?: TransportKind
  /** Which client drives the server (default `v2`). */
  readonly client?: ClientKind
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  readonly home?: string
  /** Capabilities the test client declares (e.g. elicitation). */
  readonly capabilities?: {
    readonly elicitation?: { readonly form?: Record<string, never> }
    readonly roots?: { readonly listChanged?: boolean }
  }
}

const CLIENT_INFO = { name: "mcp-ssh-live-tests", version: "0.0.0" }

/** A 2.x client: legacy negotiation (`v2`) or pinned to 2026-07-28 (`modern`). */
const newV2Client = (kind: ClientKind, options: StartOptions): Client =>
  new Client(CLIENT_INFO, {
    ...(options.capabilities !== undefined ? { capabilities: { ...options.capabilities } } : {}),
    ...(kind === "modern" ? { versionNegotiation: { mode: { pin: MODERN_REVISION } } } : {})
  })

const newV1Client = (options: StartOptions): V1Client =>
  new V1Client(CLIENT_INFO, options.capabilities !== undefined ? { capabilities: { ...options.capabilities } } : undefined)

/** Real clients list the tools right after connecting (and SDK 1.x needs it to check results). */
const connected = async (client: McpClient): Promise<McpClient> => {
  await client.listTools()
  return client
}

/** Start the server with a fresh empty HOME (no keys, no agent) unless one is given. */
export const startMcpServer = async (options: StartOptions = {}): Promise<McpServerProcess> => {
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    USER: process.env.USER ?? "root",
    ...options.env
  }
  if (options.transport === "http") return startHttpServer(options, env, home)
  const kind = options.client ?? "v2"
  const params = { command: process.execPath, args: [MAIN, ...(options.args ?? [])], env, stderr: "pipe" as const }
  let stderr = ""
  const transportErrors: Array<Error> = []
  const collect = (stream: PassThrough | null) =>
    stream?.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
  let client: McpClient
  let transport: StdioClientTransport | RecordingV1StdioTransport
  if (kind === "v1") {
    const t = new RecordingV1StdioTransport(params)
    transport = t
    t.onerror = (e) => transportErrors.push(e)
    collect(t.stderr as PassThrough | null)
    const c = newV1Client(options)
    await c.connect(t)
    client = v1Adapter(c, t)
  } else {
    const t = new StdioClientTransport(params)
    transport = t
    t.onerror = (e) => transportErrors.push(e)
    collect(t.stderr as PassThrough | null)
    const c = newV2Client(kind, options)
    await c.connect(t)
    client = v2Adapter(c, kind)
  }
  await connected(client)
  return {
    client,
    transport,
    stderr: () => stderr,
    transportErrors,
    home,
    pid: transport.pid ?? -1,
    close: async () => {
      await client.close().catch(() => undefined)
    }
  }
}

/** The server with --http on a free port, driven through the SDK's Streamable HTTP client. */
const startHttpServer = async (options: StartOptions, env: Record<string, string>, home: string): Promise<McpServerProcess> => {
  const server = await spawnHttp(options.args ?? [], { env, home })
  const { url, token } = server
  const kind = options.client ?? "v2"
  const requestInit = { headers: { Authorization: `Bearer ${token}` } }
  const transportErrors: Array<Error> = []
  let client: McpClient
  let transport: StreamableHTTPClientTransport | V1StreamableHTTPClientTransport
  if (kind === "v1") {
    const t = new V1StreamableHTTPClientTransport(new URL(url), { requestInit })
    transport = t
    t.onerror = (e) => transportErrors.push(e)
    const c = newV1Client(options)
    await c.connect(t)
    client = v1Adapter(c, t)
  } else {
    const t = new StreamableHTTPClientTransport(new URL(url), { requestInit })
    transport = t
    t.onerror = (e) => transportErrors.push(e)
    const c = newV2Client(kind, options)
    await c.connect(t)
    client = v2Adapter(c, kind)
  }
  await connected(client)
  return {
    client,
    transport,
    http: { url, token },
    stderr: server.stderr,
    transportErrors,
    home,
    pid: server.child.pid ?? -1,
    close: async () => {
      await client.close().catch(() => undefined)
      await server.close()
    }
  }
}

/** Call a tool; returns its structuredContent and whether it was an error. */
export const call = async (
  server: McpServerProcess,
  name: string,
  args: Record<string, unknown>,
  options?: { timeout?: number; signal?: AbortSignal; onprogress?: (p: { progress: number; message?: string | undefined }) => void }
): Promise<{ isError: boolean; data: Record<string, unknown>; text: string }> => {
  const result = await server.client.callTool(
    { name, arguments: args },
    {
      timeout: options?.timeout ?? 120_000,
      ...(options?.signal !== undefined ? { signal: options.signal } : {}),
      ...(options?.onprogress !== undefined ? { onprogress: options.onprogress } : {})
    }
  )
  const content = result.content
  const text = content.filter((c) => c.type === "text").map((c) => c.text ?? "").join("\n")
  if (result.isError === true) {
    // docs/TOOLS.md, "Errors": an error is text only, so that SDK 1.x clients do not check it against outputSchema.
    if (result.structuredContent !== undefined) throw new Error(`${name}: an error result carries structuredContent: ${text}`)
    const error = parseErrorText(text)
    return { isError: true, data: error === undefined ? {} : { error }, text }
  }
  return { isError: false, data: result.structuredContent ?? {}, text }
}

/** `CODE: message (hint: …)`, as the agent reads it; undefined for other texts (e.g. the SDK's input validation). */
export const parseErrorText = (text: string): { code: string; message: string; hint?: string } | undefined => {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*?)(?: \(hint: ([\s\S]*)\))?$/.exec(text)
  if (m === null) return undefined
  return m[3] === undefined ? { code: m[1]!, message: m[2]! } : { code: m[1]!, message: m[2]!, hint: m[3] }
}

export interface TailLine { readonly n: number; readonly stream: string; readonly text: string }

/**
 * The lines of an `ssh_tail` result of either form: `lines` (`format: "lines"`), or `text`
 * with `line_nos` (the default), checked to agree.
 */
export const tailLines = (data: Record<string, unknown>): Array<TailLine> => {
  if (Array.isArray(data.lines)) return data.lines as Array<TailLine>
  const lines = linesOf(String(data.text ?? ""), String(data.line_nos ?? ""))
  if (lines === undefined) throw new Error(`an ssh_tail result whose text and line_nos disagree: ${JSON.stringify(data).slice(0, 300)}`)
  return lines
}

/** Tail a job from `since` until it is no longer running; every line read, and the last reply. */
export const tailToEnd = async (server: McpServerProcess, jobId: string, since = 0, waitMs = 5000) => {
  const lines: Array<TailLine> = []
  let cursor = since
  for (let i = 0; i < 1000; i++) {
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: cursor, wait_ms: waitMs, max_lines: 10_000, max_bytes: 1_048_576 })
    if (r.isError) throw new Error(`ssh_tail failed: ${r.text}`)
    lines.push(...tailLines(r.data))
    cursor = r.data.next_line_no as number
    if (r.data.status !== "running" && r.data.more === false) return { lines, last: r.data }
  }
  throw new Error("job did not end")
}
