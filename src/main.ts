#!/usr/bin/env node
/**
 * The `mcp-ssh-live` executable: configuration → services → MCP over stdio.
 * stdout carries only MCP frames; every log line goes to stderr. The server stops
 * when stdin closes or on SIGINT/SIGTERM; closing the services' scope stops every
 * running job (TERM → grace → KILL) and then the connections.
 *
 * @since 0.1.0
 */
import type { McpServer } from "@modelcontextprotocol/server"
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio"
import { NodeRuntime } from "@effect/platform-node"
import { randomBytes } from "node:crypto"
import { Deferred, Effect, Exit, Layer, Logger, Redacted, References } from "effect"
import { loadConfig } from "./config/loadConfig.js"
import { layer, type Services } from "./layers/Live.js"
import { type HttpOptions, serveHttp } from "./http.js"
import { isLoopback } from "./loopback.js"
import { McpLogSink } from "./mcpLogging.js"
import { makeMcpServer } from "./server.js"
import type { LogLevel } from "./domain/config.js"
import { ConfigError } from "./domain/errors.js"
import { AppConfig } from "./services/AppConfig.js"
import { version } from "./version.js"

// Nothing but the transport may write to stdout: send stray console output to stderr.
console.log = console.error
console.info = console.error
console.debug = console.error

/** A startup error is one line, whatever a flag or file value it quotes contains (newlines, escapes). */
const oneLine = (text: string) => text.replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1))

const effectLogLevel = (level: LogLevel) =>
  ({ trace: "Trace", debug: "Debug", info: "Info", warn: "Warn", error: "Error", none: "None" } as const)[level]

/**
 * Serve MCP over stdio. `serveStdio` reads the client's opening message and pins the
 * connection to an era: `initialize` gets a 2025-era server (2025-11-25, 2025-06-18 …),
 * a `server/discover` probe or an enveloped request the 2026-07-28 revision. Each era
 * gets its own instance from the factory (a discarded probe instance is closed).
 */
const serve = (sink: McpLogSink) => Effect.gen(function*() {
  const context = yield* Effect.context<Services | AppConfig>()
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
    Effect.sync(() =>
      serveStdio(({ era }) => track(makeMcpServer(context), era), {
        transport: wire,
        onerror: (e) => process.stderr.write(`[mcp-ssh-live] stdio: ${e.message}\n`)
      })
    ),
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

/** Serve MCP over Streamable HTTP until SIGINT/SIGTERM. */
const serveOverHttp = (sink: McpLogSink, options: Omit<HttpOptions, "token">) =>
  Effect.gen(function*() {
    const { bind, port } = options
    const context = yield* Effect.context<Services | AppConfig>()
    const given = process.env.MCP_SSH_LIVE_TOKEN
    const token = Redacted.make(given !== undefined && given !== "" ? given : randomBytes(24).toString("base64url"))
    const bound = yield* serveHttp(context, { ...options, token }, sink).pipe(
      Effect.mapError((e) => new ConfigError({ message: `--http: cannot listen on ${bind}:${port}: ${e.message}` }))
    )
    const url = `http://${bind.includes(":") ? `[${bind}]` : bind}:${bound}/mcp`
    if (!isLoopback(bind)) {
      process.stderr.write(
        `warning: --allow-remote-bind: serving on ${bind} over plain HTTP; the bearer token crosses the network in clear text. ` +
          "Put a TLS proxy in front or use an SSH tunnel to 127.0.0.1.\n"
      )
    }
    process.stderr.write(`mcp-ssh-live ${version} listening on ${url}\n`)
    if (given === undefined || given === "") {
      // Generated: the operator needs it once, to give it to the client.
      process.stderr.write(`bearer token (set MCP_SSH_LIVE_TOKEN to choose it): ${Redacted.value(token)}\n`)
    }
    return yield* Effect.never
  })

const main = Effect.gen(function*() {
  const startup = yield* loadConfig(process.argv.slice(2), process.env)
  if (startup._tag === "Help") {
    // Not an MCP session: --help and --version answer on stdout like any CLI.
    process.stdout.write(startup.text)
    return
  }
  if (startup._tag === "Version") {
    process.stdout.write(`mcp-ssh-live ${version}\n`)
    return
  }
  const config = startup.config
  const sink = new McpLogSink()
  yield* (startup.serve._tag === "Http" ? serveOverHttp(sink, startup.serve) : serve(sink)).pipe(
    Effect.scoped,
    Effect.provide(layer.pipe(Layer.provideMerge(Layer.succeed(AppConfig)(config)))),
    Effect.provide(Logger.layer([sink.logger], { mergeWithExisting: true })),
    Effect.provideService(References.MinimumLogLevel, effectLogLevel(config.logLevel))
  )
}).pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.catchTag("ConfigError", (e) =>
    Effect.sync(() => {
      process.stderr.write(`mcp-ssh-live: ${oneLine(e.message)}${e.hint !== undefined ? `\n  hint: ${oneLine(e.hint)}` : ""}\n`)
      process.exitCode = 2
    }))
)

NodeRuntime.runMain(main)
