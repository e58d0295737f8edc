/**
 * Server events as MCP log notifications too: an Effect logger that forwards every
 * log line to the connected clients (`notifications/message`), which the SDK filters by
 * the level each client set with `logging/setLevel`. stderr keeps getting everything.
 * A server gets log lines only once its client has initialized: on stdio nothing may
 * precede the answer to `initialize`.
 *
 * @since 0.1.0
 */
import type { McpServer } from "@modelcontextprotocol/server"
import { Logger, type LogLevel } from "effect"

type McpLevel = "debug" | "info" | "notice" | "warning" | "error" | "critical" | "alert" | "emergency"

const toMcpLevel = (level: LogLevel.LogLevel): McpLevel | undefined => {
  switch (level) {
    case "Trace":
    case "Debug":
      return "debug"
    case "Info":
      return "info"
    case "Warn":
      return "warning"
    case "Error":
      return "error"
    case "Fatal":
      return "critical"
    default:
      return undefined
  }
}

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map(text).join(" ") : typeof message === "string" ? message : JSON.stringify(message)

/** Where log lines go once MCP servers exist (the logger is built before them): one per session. */
export class McpLogSink {
  readonly servers = new Set<McpServer>()

  /** Forward log lines to `server` from its client's `notifications/initialized` until it closes. */
  attach(server: McpServer): void {
    const initialized = server.server.oninitialized
    server.server.oninitialized = () => {
      initialized?.()
      this.servers.add(server)
    }
    const closed = server.server.onclose
    server.server.onclose = () => {
      this.servers.delete(server)
      closed?.()
    }
  }

  readonly logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    const level = toMcpLevel(logLevel)
    if (level === undefined || this.servers.size === 0) return
    const data = text(message)
    for (const server of this.servers) {
      if (server.isConnected()) server.sendLoggingMessage({ level, logger: "mcp-ssh-live", data }).catch(() => undefined)
    }
  })
}
