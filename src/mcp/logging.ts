/**
 * Where log lines go: stderr (`stderrLogger`, everything) and MCP log notifications
 * (`McpLogSink`: every log line forwarded to the connected clients as
 * `notifications/message`, which the SDK filters by the level each client set with
 * `logging/setLevel`). A server gets log lines only once its client has initialized: on
 * stdio nothing may precede the answer to `initialize`.
 *
 * Log lines quote agent text (commands, user names) and host text (error messages): both
 * writers escape every control character (`escapeControls`), so one record is one line
 * and no escape sequence (window title, OSC 52 clipboard) reaches the reader's terminal.
 *
 * @since 0.1.0
 */
import type { McpServer } from "@modelcontextprotocol/server"
import { Cause, Logger, type LogLevel } from "effect"
import { escapeControls } from "../domain/escapeText.js"

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

const clock = (date: Date) =>
  [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":") +
  `.${String(date.getMilliseconds()).padStart(3, "0")}`

/** A line for stderr, whatever the process writes there: control characters escaped, one line. */
export const stderrLine = (text: string): string => `${escapeControls(text)}\n`

/** Every log record as one stderr line, `[HH:MM:SS.mmm] LEVEL (#fiber): message` (Effect's default format, escaped). */
export const stderrLogger = Logger.make<unknown, void>(({ cause, date, fiber, logLevel, message }) => {
  const parts = [text(message), ...(cause.reasons.length > 0 ? [Cause.pretty(cause)] : [])]
  process.stderr.write(stderrLine(`[${clock(date)}] ${logLevel.toUpperCase()} (#${fiber.id}): ${parts.join(" ")}`))
})

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
    const data = escapeControls(text(message))
    for (const server of this.servers) {
      if (server.isConnected()) server.sendLoggingMessage({ level, logger: "mcp-ssh-live", data }).catch(() => undefined)
    }
  })
}
