/**
 * MCP over Streamable HTTP: `mcp-ssh-live --http`, at http://BIND:PORT/mcp.
 *
 * - 2026-07-28 traffic (per-request envelopes) is served by the SDK's `createMcpHandler`:
 *   a fresh server per request, nothing kept between requests.
 * - 2025-era traffic (2025-11-25, 2025-06-18 …) gets a session per client
 *   (`Mcp-Session-Id`) with a bounded SSE event store, so a dropped stream resumes with
 *   `Last-Event-ID`. Nothing is allocated before an `initialize`; sessions close after
 *   an idle time and are capped (past the cap the least recently used idle session
 *   closes; if every session has a request in flight, 503).
 *
 * All sessions share the same services, so jobs and connections are common to them.
 * Every request needs the bearer token; on a loopback bind, Host and Origin must be
 * loopback names too (DNS rebinding); any other path than /mcp is a 404: httpGuards.ts,
 * checked on the headers before any body is read. Malformed requests get a 4xx, never a
 * crash: nodeBridge.ts (which also says why the bridge is ours).
 *
 * Connections are capped (`http_max_connections`; Node closes those past it at once), and
 * so are those that have not shown the token yet (UNAUTHENTICATED_CONNECTIONS, the oldest
 * closed first); headers must arrive within HEADERS_TIMEOUT_MS and a whole request within
 * REQUEST_TIMEOUT_MS, else Node answers 408 and closes the connection.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import {
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type McpServer,
  WebStandardStreamableHTTPServerTransport
} from "@modelcontextprotocol/server"
import { Clock, Context, Effect, FiberSet, type Redacted, Schedule } from "effect"
import { BoundedEventStore } from "./eventStore.js"
import { jsonError as json, loopbackGuard, tokenMatches, UnauthenticatedConnections } from "./httpGuards.js"
import type { Services } from "../layers/Live.js"
import { isLoopback } from "../loopback.js"
import { MAX_BODY_BYTES, serveNode } from "./nodeBridge.js"
import type { McpLogSink } from "./logging.js"
import type { AuditLogShape } from "./audit.js"
import { makeMcpServer } from "./server.js"
import { makeTasksExtension } from "./tasks/extension.js"
import { listenOverHttp } from "./tasks/listen.js"
import { AppConfig } from "../domain/AppConfig.js"

export interface HttpOptions {
  readonly port: number
  readonly bind: string
  readonly token: Redacted.Redacted<string>
  /** A 2025-era session with no request in flight for this long is closed. */
  readonly sessionIdleSec: number
  /** At most this many 2025-era sessions at once. */
  readonly maxSessions: number
}

/** Suggested reconnection delay sent with each stream's first event. */
const RETRY_MS = 2_000
/**
 * Connections that have sent no request with the token yet, at most (the oldest closed
 * first). A client with the token sends its request as soon as it connects, so this only
 * bounds what a client without the token can hold.
 */
export const UNAUTHENTICATED_CONNECTIONS = 64
/** Request line and headers within this time (Node's default, 60 s, let a slow sender hold a connection). */
export const HEADERS_TIMEOUT_MS = 10_000
/** The whole request, body included, within this time (a 4 MiB body at 140 KB/s; responses are not timed). */
export const REQUEST_TIMEOUT_MS = 30_000
interface Session {
  readonly server: McpServer
  readonly transport: WebStandardStreamableHTTPServerTransport
  /** Requests (and streams) still open. */
  active: number
  lastSeen: number
}

/** Serve MCP on http://bind:port/mcp until the scope closes; resolves to the port actually bound. */
export const serveHttp = (
  context: Context.Context<Services | AppConfig>,
  options: HttpOptions,
  sink: McpLogSink,
  auditLog?: AuditLogShape
) =>
  Effect.gen(function*() {
    // A 2025-era session's id comes with each call; a 2026-07-28 request has no session (null).
    // One tasks extension for every session and request: a task is found from any of them.
    const tasks = yield* makeTasksExtension
    const serverOptions = auditLog === undefined ? { tasks } : { audit: { log: auditLog, session: undefined }, tasks }
    // The SDK reports in callbacks: their log lines run in fibers of this scope.
    const log = yield* FiberSet.makeRuntime()
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const sessions = new Map<string, Session>()
    const loopbackBind = isLoopback(options.bind)
    const idleMs = options.sessionIdleSec * 1000

    const modern = createMcpHandler(() => makeMcpServer(context, serverOptions), {
      legacy: "reject",
      maxRequestBodySize: MAX_BODY_BYTES,
      onerror: (e) => log(Effect.logDebug(`http: ${e.message}`))
    })

    const closeSession = (id: string, why: string | undefined) => {
      const session = sessions.get(id)
      if (session === undefined) return
      sessions.delete(id)
      if (why !== undefined) log(Effect.logInfo(`http: closed session ${id.slice(0, 8)}…: ${why}`))
      session.server.close().catch(() => undefined)
    }

    const sweep = () => {
      const at = now()
      for (const [id, s] of sessions) {
        if (s.active === 0 && at - s.lastSeen > idleMs) closeSession(id, `idle for more than ${options.sessionIdleSec} s`)
      }
    }

    /** Make room for one more session: false when every session is busy. */
    const makeRoom = () => {
      sweep()
      if (sessions.size < options.maxSessions) return true
      let oldest: [string, Session] | undefined
      for (const entry of sessions) {
        if (entry[1].active === 0 && (oldest === undefined || entry[1].lastSeen < oldest[1].lastSeen)) oldest = entry
      }
      if (oldest === undefined) return false
      closeSession(oldest[0], `session cap (${options.maxSessions}) reached; this one was the least recently used`)
      return true
    }

    const track = (session: Session, onDone: (f: () => void) => void) => {
      session.active++
      session.lastSeen = now()
      onDone(() => {
        session.active--
        session.lastSeen = now()
      })
    }

    const legacy = async (request: Request, parsedBody: unknown, onDone: (f: () => void) => void): Promise<Response> => {
      const id = request.headers.get("mcp-session-id")
      const handlerOptions = parsedBody === undefined ? {} : { parsedBody }
      if (id !== null) {
        const session = sessions.get(id)
        if (session === undefined) return json(404, "Session not found: send initialize to open a new one", {}, -32001)
        track(session, onDone)
        return session.transport.handleRequest(request, handlerOptions)
      }
      // Nothing is allocated for a client that has no session and does not ask for one.
      if (request.method !== "POST" || !isInitializeRequest(parsedBody)) {
        return json(400, "Bad Request: no Mcp-Session-Id; send initialize first")
      }
      if (!makeRoom()) {
        return json(503, `Service Unavailable: all ${options.maxSessions} sessions have requests in flight; retry later`, { "retry-after": "5" })
      }
      const sid = randomUUID()
      const server = makeMcpServer(context, serverOptions)
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => sid,
        eventStore: new BoundedEventStore(),
        retryInterval: RETRY_MS,
        onsessionclosed: (closed) => closeSession(closed, undefined)
      })
      transport.onclose = () => closeSession(sid, undefined)
      sink.attach(server)
      const session: Session = { server, transport, active: 0, lastSeen: now() }
      sessions.set(sid, session)
      track(session, onDone)
      await server.connect(transport)
      const response = await transport.handleRequest(request, handlerOptions)
      // A refused initialize (bad headers, unsupported version …) opens no session.
      if (transport.sessionId === undefined) closeSession(sid, undefined)
      return response
    }

    const waiting = new UnauthenticatedConnections(UNAUTHENTICATED_CONNECTIONS)

    /** On the headers alone: Host and Origin, the path, the token. */
    const admit = (request: Request, path: string, socket: net.Socket): Response | undefined => {
      if (loopbackBind) {
        const rejected = loopbackGuard(request)
        if (rejected !== undefined) return rejected
      }
      // Not a 401: a client that speaks OAuth would take it for an authorization server to look for.
      if (path !== "/mcp") return json(404, "not found: the endpoint is /mcp")
      if (!tokenMatches(request.headers.get("authorization"), options.token)) {
        return json(401, "missing or wrong bearer token", { "www-authenticate": "Bearer" })
      }
      waiting.authenticated(socket)
      return undefined
    }

    const handle = async (request: Request, body: string | undefined, onDone: (f: () => void) => void): Promise<Response> => {
      // The body is parsed once here and handed on, so that no handler reads it again.
      let parsedBody: unknown
      if (body !== undefined && body !== "") {
        try {
          parsedBody = JSON.parse(body)
        } catch {
          return json(400, "Parse error: the body is not JSON", {}, -32700)
        }
      }
      if (await isLegacyRequest(request, parsedBody)) return legacy(request, parsedBody, onDone)
      // A listen for task ids is the tasks extension's (the SDK's router would drop them).
      return listenOverHttp(tasks.listens, parsedBody) ?? modern.fetch(request, parsedBody === undefined ? {} : { parsedBody })
    }

    const nodeServer = http.createServer({
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // How often Node looks for connections past those timeouts (default 30 s).
      connectionsCheckingInterval: 1_000
    }, (req, res) => {
      res.on("error", () => undefined)
      req.on("error", () => undefined)
      serveNode(req, res, { admit, handle }).catch((e: unknown) => {
        log(Effect.logError(`http: ${e instanceof Error ? e.message : String(e)}`))
        if (!res.headersSent) res.writeHead(500)
        res.end()
      })
    })
    nodeServer.maxConnections = Context.get(context, AppConfig).limits.httpMaxConnections
    nodeServer.on("connection", (socket: net.Socket) => waiting.add(socket))

    yield* Effect.forkScoped(
      Effect.sync(sweep).pipe(Effect.repeat(Schedule.spaced(Math.min(30_000, Math.max(250, idleMs / 2)))))
    )

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
          await modern.close().catch(() => undefined)
          for (const { server } of [...sessions.values()]) await server.close().catch(() => undefined)
          sessions.clear()
          nodeServer.closeAllConnections()
          await new Promise((resolve) => nodeServer.close(resolve))
        })
    )
    return port
  })
