/**
 * The `mcp-ssh-live` executable, loaded by main.ts: CLI → configuration → services → MCP
 * over stdio (or Streamable HTTP with `--http`; both in src/mcp/serve.ts).
 * stdout carries only MCP frames; every log line goes to stderr. The server stops
 * when stdin closes or on SIGINT/SIGTERM; closing the services' scope stops every
 * running job (TERM → grace → KILL) and then the connections. After a signal the process
 * exits at the latest `kill_grace_ms` + 15 s later, whatever is still closing.
 *
 * @since 0.1.0
 */
// The module, not the package index: an index loads every module of its package.
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import { Effect, Layer, Logger, References } from "effect"
import { loadConfig } from "./config/loadConfig.js"
import type { LogLevel } from "./domain/config.js"
import { layer } from "./layers/Live.js"
import { AuditLog } from "./mcp/audit.js"
import { McpLogSink, serveOverHttp, serveOverStdio } from "./mcp/index.js"
import { stderrLine, stderrLogger } from "./mcp/logging.js"
import { viewServerLayer } from "./mcp/viewServer.js"
import { AppConfig } from "./domain/AppConfig.js"
import { version } from "./version.js"

// Nothing but the transport may write to stdout: send stray console output to stderr.
console.log = console.error
console.info = console.error
console.debug = console.error

const effectLogLevel = (level: LogLevel) =>
  ({ trace: "Trace", debug: "Debug", info: "Info", warn: "Warn", error: "Error", none: "None" } as const)[level]

/** Beyond the jobs' TERM → KILL grace, what a shutdown may take before the process exits anyway. */
const SHUTDOWN_SLACK_MS = 15_000

/**
 * A stop signal must stop the process: if the graceful shutdown (jobs stopped, then the
 * connections) is not done `ms` after SIGTERM or SIGINT (a host that never answers a close,
 * say), the process says so on stderr and exits with status 1.
 */
const armShutdownDeadline = (ms: number) => {
  const arm = () => {
    setTimeout(() => {
      process.stderr.write(stderrLine(`mcp-ssh-live: shutdown still not done after ${ms} ms: exiting`))
      process.exit(1)
    }, ms).unref()
  }
  process.once("SIGTERM", arm)
  process.once("SIGINT", arm)
}

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
  armShutdownDeadline(config.limits.killGraceMs + SHUTDOWN_SLACK_MS)
  const sink = new McpLogSink()
  const services = AuditLog.layer.pipe(Layer.provideMerge(layer), Layer.provideMerge(Layer.succeed(AppConfig)(config)))
  // --view-port: the live view as a web page too (tools find it in their context).
  const withView = config.viewPort === undefined ? services : viewServerLayer(config.viewPort).pipe(Layer.provideMerge(services))
  yield* (startup.serve._tag === "Http"
    ? serveOverHttp(sink, startup.serve, process.env.MCP_SSH_LIVE_TOKEN)
    : serveOverStdio(sink)).pipe(
    Effect.scoped,
    Effect.provide(withView),
    // Effect's default logger writes messages raw: ours escapes them (logging.ts).
    Effect.provide(Logger.layer([Logger.tracerLogger, stderrLogger, sink.logger])),
    Effect.provideService(References.MinimumLogLevel, effectLogLevel(config.logLevel))
  )
}).pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.catchTag("ConfigError", (e) =>
    Effect.sync(() => {
      // A startup error is one line (and its hint another), whatever a flag or file value it quotes holds.
      process.stderr.write(stderrLine(`mcp-ssh-live: ${e.message}`) + (e.hint !== undefined ? stderrLine(`  hint: ${e.hint}`) : ""))
      process.exitCode = 2
    }))
)

NodeRuntime.runMain(main)
