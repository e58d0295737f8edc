/**
 * Server events as MCP log notifications too: an Effect logger that forwards every
 * log line to the connected client (`notifications/message`), which the SDK filters by
 * the level the client set with `logging/setLevel`. stderr keeps getting everything.
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

/** Where log lines go once the MCP server exists (the logger is built before it). */
export class McpLogSink {
  server: McpServer | undefined = undefined

  readonly logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    const server = this.server
    const level = toMcpLevel(logLevel)
    if (server === undefined || level === undefined || !server.isConnected()) return
    server.sendLoggingMessage({ level, logger: "mcp-ssh-live", data: text(message) }).catch(() => undefined)
  })
}
