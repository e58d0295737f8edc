/**
 * The live job view, an MCP App (docs/TOOLS.md, "The live job view"): a `ui://` resource holding one self-contained
 * HTML page (built from ./view by Vite into dist/mcp/apps/view/index.html) that hosts with
 * MCP Apps render next to `ssh_spawn` and `ssh_tail` results. The page follows the job by
 * calling `ssh_tail` through the host and stops it through `ssh_signal`.
 *
 * The wire names come from `@modelcontextprotocol/ext-apps` (`RESOURCE_MIME_TYPE`,
 * `_meta.ui.resourceUri`, `_meta.ui.csp`); they are spelt out here rather than imported
 * so that the installed server does not pull that package and its peers (zod, the client
 * SDK) at run time. test/e2e/live-view.test.ts checks them against the package.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs/promises"
import type { McpServer } from "@modelcontextprotocol/server"

/** The view's URI: short, as `tools/list` carries it twice. */
export const JOB_VIEW_URI = "ui://ssh/job"

/** ext-apps `RESOURCE_MIME_TYPE`. */
export const MCP_APP_MIME_TYPE = "text/html;profile=mcp-app"

/** The `_meta` a tool carries to link the view (ext-apps `McpUiToolMeta`). */
export const jobViewLink: Readonly<Record<string, unknown>> = { ui: { resourceUri: JOB_VIEW_URI } }

/**
 * The page needs nothing from the network: no connect, resource, frame or base-URI
 * origins, so a host's CSP allows nothing external (ext-apps `McpUiResourceCsp`).
 */
const resourceMeta = {
  ui: {
    csp: { connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] },
    prefersBorder: true
  }
}

const htmlPath = new URL("./view/index.html", import.meta.url)

let html: Promise<string> | undefined
/** The view's HTML (also served as a web page by src/mcp/viewServer.ts). */
export const readViewHtml = (): Promise<string> => {
  html ??= fs.readFile(htmlPath, "utf8").catch((e: unknown) => {
    html = undefined
    throw new Error(`the job view is not built (${htmlPath.pathname}): run npm run build`, { cause: e })
  })
  return html
}

/** Register the job view resource on `server`. */
export const registerJobView = (server: McpServer): void => {
  server.registerResource(
    "job-view",
    JOB_VIEW_URI,
    {
      title: "Live job view",
      description: "Follows a job's output as it arrives, with TERM / INT buttons (MCP Apps).",
      mimeType: MCP_APP_MIME_TYPE,
      _meta: resourceMeta
    },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: MCP_APP_MIME_TYPE, text: await readViewHtml(), _meta: resourceMeta }]
    })
  )
}
