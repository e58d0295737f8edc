/**
 * Serving MCP with the services in context, until the scope closes: over stdio (what
 * `mcp-ssh-live` does by default) or over Streamable HTTP (`--http`). Each returns when
 * the transport is done (stdin closed) or never (HTTP, until interrupted); closing the
 * scope closes every MCP server, and with them their sessions' fibers.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { McpServer } from "@modelcontextprotocol/server"
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio"
import { Deferred, Effect, Exit, Redacted } from "effect"
import { ConfigError } from "../domain/errors.js"
import type { Services } from "../layers/Live.js"
import { isLoopback } from "../loopback.js"
import type { AppConfig } from "../domain/AppConfig.js"
import { version } from "../version.js"
import { type HttpOptions, serveHttp } from "./http.js"
import { type McpLogSink, stderrLine } from "./logging.js"
import { AuditLog } from "./audit.js"
import { makeMcpServer } from "./server.js"
import { makeTasksExtension } from "./tasks/extension.js"
import { listenOverStdio } from "./tasks/listen.js"
import { addOwnListener } from "../tunnels/ownListeners.js"

/**
 * Serve MCP over stdio until stdin closes. `serveStdio` reads the client's opening message
 * and pins the connection to an era: `initialize` gets a 2025-era server (2025-11-25,
 * 2025-06-18 …), a `server/discover` probe or an enveloped request the 2026-07-28
 * revision. Each era gets its own instance from the factory (a discarded probe instance
 * is closed).
 */
export const serveOverStdio = (sink: McpLogSink) => Effect.gen(function*() {
  const context = yield* Effect.context<Services | AppConfig>()
  const log = yield* Effect.serviceOption(AuditLog)
  // stdio has no session id: this process's stands for the one client it serves.
  const audit = log._tag === "Some" ? { log: log.value, session: log.value.processSession } : undefined
  const tasks = yield* makeTasksExtension
  const wire = new StdioServerTransport()
  const closed = yield* Deferred.make<void>()
  const track = (server: McpServer, era: "legacy" | "modern"): McpServer => {
    // Log notifications are deprecated in 2026-07-28 (SEP-2577), which also has no
    // logging/setLevel to filter them: modern sessions read the log on stderr. Legacy
    // ones get them once initialized (nothing may precede the initialize answer).
    if (era === "legacy") sink.attach(server)
    return server
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      // The client runs on this machine: its MCP roots name our files.
      const served = serveStdio(({ era }) => track(makeMcpServer(context, { ...(audit === undefined ? {} : { audit }), tasks, clientRoots: true }), era), {
        transport: wire,
        onerror: (e) => process.stderr.write(stderrLine(`[mcp-ssh-live] stdio: ${e.message}`))
      })
      // Listens for task ids go to the tasks extension, ahead of the SDK's router (which would drop them).
      listenOverStdio(tasks.listens, wire)
      return served
    }),
    (h) => Effect.promise(() => h.close().catch(() => undefined))
  )
  // serveStdio owns the transport's callbacks: chain ours after its close handler.
  const onclose = wire.onclose
  wire.onclose = () => {
    onclose?.()
    Deferred.doneUnsafe(closed, Exit.void)
  }
  yield* Effect.logInfo(`mcp-ssh-live ${version} ready on stdio`)
  yield* Deferred.await(closed)
  yield* Effect.logInfo("stdin closed; shutting down")
})

/**
 * Serve MCP over Streamable HTTP until interrupted. `givenToken` (MCP_SSH_LIVE_TOKEN) is
 * the bearer token; without one a random token is made and printed once on stderr.
 */
export const serveOverHttp = (sink: McpLogSink, options: Omit<HttpOptions, "token">, givenToken: string | undefined) =>
  Effect.gen(function*() {
    const { bind, port } = options
    const context = yield* Effect.context<Services | AppConfig>()
    const log = yield* Effect.serviceOption(AuditLog)
    const given = givenToken !== undefined && givenToken !== "" ? givenToken : undefined
    const token = Redacted.make(given ?? randomBytes(24).toString("base64url"))
    const bound = yield* serveHttp(context, { ...options, token }, sink, log._tag === "Some" ? log.value : undefined).pipe(
      Effect.mapError((e) => new ConfigError({ message: `--http: cannot listen on ${bind}:${port}: ${e.message}`, cause: e }))
    )
    // A remote tunnel may not lead here (src/tunnels/ownListeners.ts).
    yield* Effect.acquireRelease(Effect.sync(() => addOwnListener(bind, bound)), (release) => Effect.sync(release))
    const url = `http://${bind.includes(":") ? `[${bind}]` : bind}:${bound}/mcp`
    if (!isLoopback(bind)) {
      process.stderr.write(
        `warning: --allow-remote-bind: serving on ${bind} over plain HTTP; the bearer token crosses the network in clear text. ` +
          "Put a TLS proxy in front or use an SSH tunnel to 127.0.0.1.\n"
      )
    }
    process.stderr.write(`mcp-ssh-live ${version} listening on ${url}\n`)
    if (given === undefined) {
      // Generated: the operator needs it once, to give it to the client.
      process.stderr.write(`bearer token (set MCP_SSH_LIVE_TOKEN to choose it): ${Redacted.value(token)}\n`)
    }
    return yield* Effect.never
  })
