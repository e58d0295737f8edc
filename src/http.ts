/**
 * MCP over Streamable HTTP: `mcp-ssh-live --http`. One MCP session per client
 * (`Mcp-Session-Id`), all sharing the same services, so jobs and connections are
 * common to every session. Every request needs the bearer token; Host and Origin are
 * checked against localhost names (DNS rebinding) unless bound elsewhere on purpose.
 *
 * @since 0.1.0
 */
import { randomUUID, timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import { Readable } from "node:stream"
import {
  hostHeaderValidationResponse,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpServer,
  originValidationResponse,
  WebStandardStreamableHTTPServerTransport
} from "@modelcontextprotocol/server"
import { type Context, Effect, Redacted } from "effect"
import type { Services } from "./layers/Live.js"
import type { McpLogSink } from "./mcpLogging.js"
import { makeMcpServer } from "./server.js"
import type { AppConfig } from "./services/AppConfig.js"

export interface HttpOptions {
  readonly port: number
  readonly bind: string
  readonly token: Redacted.Redacted<string>
}

const tokenMatches = (header: string | null, token: Redacted.Redacted<string>) => {
  const expected = Buffer.from(`Bearer ${Redacted.value(token)}`)
  const got = Buffer.from(header ?? "")
  return got.length === expected.length && timingSafeEqual(got, expected)
}

const json = (status: number, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers }
  })

/** Serve MCP on http://bind:port/mcp until the scope closes; resolves to the port actually bound. */
export const serveHttp = (context: Context.Context<Services | AppConfig>, options: HttpOptions, sink: McpLogSink) =>
  Effect.gen(function*() {
    const sessions = new Map<string, { readonly server: McpServer; readonly transport: WebStandardStreamableHTTPServerTransport }>()
    const loopback = options.bind === "127.0.0.1" || options.bind === "::1" || options.bind === "localhost"

    const handle = async (request: Request): Promise<Response> => {
      if (loopback) {
        const rejected = hostHeaderValidationResponse(request, localhostAllowedHostnames()) ??
          originValidationResponse(request, localhostAllowedOrigins())
        if (rejected !== undefined) return rejected
      }
      if (!tokenMatches(request.headers.get("authorization"), options.token)) {
        return json(401, "missing or wrong bearer token", { "www-authenticate": "Bearer" })
      }
      if (new URL(request.url).pathname !== "/mcp") return json(404, "not found: the endpoint is /mcp")
      const id = request.headers.get("mcp-session-id")
      if (id !== null) {
        const session = sessions.get(id)
        return session === undefined ? json(404, "unknown session") : session.transport.handleRequest(request)
      }
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => {
          sessions.set(sid, { server, transport })
        },
        onsessionclosed: (sid) => {
          sessions.delete(sid)
        }
      })
      const server = makeMcpServer(context)
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
        sink.servers.delete(server)
      }
      sink.servers.add(server)
      await server.connect(transport)
      return transport.handleRequest(request)
    }

    const nodeServer = http.createServer((req, res) => {
      const url = `http://${req.headers.host ?? `${options.bind}:${options.port}`}${req.url ?? "/"}`
      const hasBody = req.method !== "GET" && req.method !== "HEAD"
      const request = new Request(url, {
        method: req.method ?? "GET",
        headers: Object.entries(req.headers).flatMap(([k, v]) =>
          v === undefined ? [] : Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v] as [string, string]]),
        ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {})
      } as RequestInit)
      handle(request).then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers))
        if (response.body === null) return res.end()
        res.flushHeaders()
        const reader = response.body.getReader()
        req.on("close", () => reader.cancel().catch(() => undefined))
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          res.write(value)
        }
        res.end()
      }).catch((e: unknown) => {
        process.stderr.write(`[mcp-ssh-live] http: ${e instanceof Error ? e.message : String(e)}\n`)
        if (!res.headersSent) res.writeHead(500)
        res.end()
      })
    })

    const port = yield* Effect.acquireRelease(
      Effect.callback<number, Error>((resume) => {
        nodeServer.once("error", (e) => resume(Effect.fail(e)))
        nodeServer.listen(options.port, options.bind, () => {
          const address = nodeServer.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : options.port))
        })
      }),
      () =>
        Effect.promise(async () => {
          for (const { server } of sessions.values()) await server.close().catch(() => undefined)
          nodeServer.closeAllConnections()
          await new Promise((resolve) => nodeServer.close(resolve))
        })
    )
    return port
  })
