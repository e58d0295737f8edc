/**
 * Drive the built server (`dist/main.js`) as a subprocess through the official MCP
 * SDK client over stdio, as editors do.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/client"
import { spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"

export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url))

/** The transports the end-to-end suites run over. */
export const TRANSPORTS = ["stdio", "http"] as const
export type TransportKind = typeof TRANSPORTS[number]

export interface McpServerProcess {
  readonly client: Client
  readonly transport: StdioClientTransport | StreamableHTTPClientTransport
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
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  readonly home?: string
  /** Capabilities the test client declares (e.g. elicitation). */
  readonly capabilities?: ConstructorParameters<typeof Client>[1] extends infer O ? O extends { capabilities?: infer C } ? C : never : never
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
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN, ...(options.args ?? [])],
    env,
    stderr: "pipe"
  })
  let stderr = ""
  const transportErrors: Array<Error> = []
  transport.onerror = (e) => transportErrors.push(e)
  const client = new Client(
    { name: "mcp-ssh-live-tests", version: "0.0.0" },
    options.capabilities !== undefined ? { capabilities: options.capabilities } : undefined
  )
  const stderrStream = transport.stderr as PassThrough | null
  stderrStream?.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  await client.connect(transport)
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
  const token = randomBytes(16).toString("hex")
  const child: ChildProcess = spawn(process.execPath, [MAIN, "--http", "--port", "0", ...(options.args ?? [])], {
    env: { ...env, MCP_SSH_LIVE_TOKEN: token },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(stderr)
      if (m !== null) resolve(m[1]!)
    })
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)))
  })
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } })
  const transportErrors: Array<Error> = []
  transport.onerror = (e) => transportErrors.push(e)
  const client = new Client(
    { name: "mcp-ssh-live-tests", version: "0.0.0" },
    options.capabilities !== undefined ? { capabilities: options.capabilities } : undefined
  )
  await client.connect(transport)
  return {
    client,
    transport,
    http: { url, token },
    stderr: () => stderr,
    transportErrors,
    home,
    pid: child.pid ?? -1,
    close: async () => {
      await client.close().catch(() => undefined)
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve))
        child.kill("SIGTERM")
        await exited
      }
    }
  }
}

/** Call a tool; returns its structuredContent and whether it was an error. */
export const call = async (
  server: McpServerProcess,
  name: string,
  args: Record<string, unknown>,
  options?: { timeout?: number; signal?: AbortSignal; onprogress?: (p: { progress: number; message?: string }) => void }
): Promise<{ isError: boolean; data: Record<string, unknown>; text: string }> => {
  const result = await server.client.callTool(
    { name, arguments: args },
    {
      timeout: options?.timeout ?? 120_000,
      ...(options?.signal !== undefined ? { signal: options.signal } : {}),
      ...(options?.onprogress !== undefined ? { onprogress: options.onprogress as never, resetTimeoutOnProgress: true } : {})
    }
  )
  const content = (result.content ?? []) as Array<{ type: string; text?: string }>
  const text = content.filter((c) => c.type === "text").map((c) => c.text ?? "").join("\n")
  if (result.isError === true) {
    // SPEC §2: an error is text only, so that SDK 1.x clients do not check it against outputSchema.
    if (result.structuredContent !== undefined) throw new Error(`${name}: an error result carries structuredContent: ${text}`)
    const error = parseErrorText(text)
    return { isError: true, data: error === undefined ? {} : { error }, text }
  }
  return { isError: false, data: (result.structuredContent ?? {}) as Record<string, unknown>, text }
}

/** `CODE: message (hint: …)`, as the agent reads it; undefined for other texts (e.g. the SDK's input validation). */
export const parseErrorText = (text: string): { code: string; message: string; hint?: string } | undefined => {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*?)(?: \(hint: ([\s\S]*)\))?$/.exec(text)
  if (m === null) return undefined
  return m[3] === undefined ? { code: m[1]!, message: m[2]! } : { code: m[1]!, message: m[2]!, hint: m[3] }
}

export interface TailLine { readonly n: number; readonly stream: string; readonly text: string }

/** Tail a job from `since` until it is no longer running; every line read, and the last reply. */
export const tailToEnd = async (server: McpServerProcess, jobId: string, since = 0, waitMs = 5000) => {
  const lines: Array<TailLine> = []
  let cursor = since
  for (let i = 0; i < 1000; i++) {
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: cursor, wait_ms: waitMs, max_lines: 10_000, max_bytes: 1_048_576 })
    if (r.isError) throw new Error(`ssh_tail failed: ${r.text}`)
    lines.push(...(r.data.lines as Array<TailLine>))
    cursor = r.data.next_line_no as number
    if (r.data.status !== "running" && r.data.more === false) return { lines, last: r.data }
  }
  throw new Error("job did not end")
}
