/**
 * `mcp-ssh-live/mcp`: the MCP server over the library's services, for embedding it in
 * another program. `makeMcpServer(context)` is one SDK v2 `McpServer` (any transport);
 * `serveOverStdio` and `serveOverHttp` are what the `mcp-ssh-live` executable runs, with
 * `McpLogSink` forwarding log lines to the clients; `makeTasksExtension` (scoped: one per
 * process) is what `makeMcpServer`'s `tasks` option takes. The library entry (`mcp-ssh-live`)
 * never loads the MCP SDK; this one does.
 *
 * @since 0.1.0
 */
export { type HttpOptions, serveHttp } from "./http.js"
export { McpLogSink } from "./logging.js"
export { serveOverHttp, serveOverStdio } from "./serve.js"
export { makeMcpServer } from "./server.js"
export { makeTasksExtension, type TasksExtension } from "./tasks/extension.js"
export { tools } from "./tools/index.js"
export type { AnyTool, Tool, ToolContext } from "./tools/Tool.js"
