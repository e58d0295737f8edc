/**
 * The MCP server: an SDK v2 `McpServer` with every tool registered over a given
 * set of services. Transport-agnostic (stdio in `main.ts`), and the same instance
 * serves every protocol revision (2025-06-18, 2025-11-25, 2026-07-28): the entry
 * (`serveStdio`, `createMcpHandler`) decides the era per connection or request.
 *
 * @since 0.1.0
 */
import { McpServer } from "@modelcontextprotocol/server"
import type { Context } from "effect"
import { registerJobView } from "./apps/jobView.js"
import type { Services } from "../layers/Live.js"
import type { AppConfig } from "../domain/AppConfig.js"
import { watchRootsChanges } from "./clientRoots.js"
import { registerJobResources } from "./resources.js"
import type { TasksExtension } from "./tasks/extension.js"
import { tools } from "./tools/index.js"
import { type AuditOptions, registerTools, roundState } from "./tools/register.js"
import { version } from "../version.js"

const instructions =
  "Live SSH for agents. ssh_connect a host (or use a configured one), then: ssh_exec for short commands; " +
  "ssh_spawn + ssh_tail for anything long (builds, deploys, logs); no call blocks past ~45 s (an ssh_exec still " +
  "running then becomes a job); " +
  "ssh_send_stdin answers prompts; ssh_signal stops jobs. Every job line has a number: pass next_line_no back as " +
  "since_line_no to read each line exactly once."

/**
 * A new MCP server whose tools run with `context`; with `options.audit`, every tool call is
 * recorded there; with `options.tasks`, it serves the MCP Tasks extension (one per process:
 * every server of the process shares its tasks); with `options.clientRoots` (stdio only: the
 * client runs on this machine), its MCP roots narrow the default `local_roots` of transfers.
 */
export const makeMcpServer = (
  context: Context.Context<Services | AppConfig>,
  options: { readonly audit?: AuditOptions; readonly tasks?: TasksExtension; readonly clientRoots?: boolean } = {}
): McpServer => {
  const server = new McpServer(
    { name: "mcp-ssh-live", version },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: false } },
      instructions,
      // 2026-07-28 multi-round calls echo this state back: accept only what we sealed.
      requestState: { verify: (state, ctx) => roundState.verify(state, ctx) }
    }
  )
  const registered = registerTools(server, tools, context, options.audit, options.clientRoots === true)
  if (options.clientRoots === true) watchRootsChanges(server)
  registerJobResources(server, context)
  registerJobView(server)
  options.tasks?.attach(server, registered)
  return server
}
