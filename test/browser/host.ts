/**
 * A minimal MCP Apps host for the browser test: it embeds a view's HTML in a sandboxed
 * iframe under the CSP the resource declares, and bridges it with the ext-apps SDK's
 * `AppBridge`. The view's tool calls go to `window.mcpCallTool`, which the test binds
 * to a real MCP client of the real server (Playwright's exposeFunction).
 */
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge"
import type { McpUiHostContext, McpUiResourceCsp, McpUiStyles } from "@modelcontextprotocol/ext-apps/app-bridge"
import type { CallToolRequest, CallToolResult } from "@modelcontextprotocol/client"

export interface ViewOptions {
  readonly html: string
  readonly csp: McpUiResourceCsp | undefined
  readonly toolName: string
  readonly args: Record<string, unknown>
  readonly result: CallToolResult
  readonly theme: "light" | "dark"
}

declare global {
  interface Window {
    mcpCallTool: (params: CallToolRequest["params"]) => Promise<CallToolResult>
    openView: (options: ViewOptions) => Promise<void>
  }
}

/** The CSP a host derives from `_meta.ui.csp` (ext-apps spec): nothing beyond the declared origins. */
const cspOf = (csp: McpUiResourceCsp | undefined): string => {
  const list = (origins: ReadonlyArray<string> | undefined, none: string) =>
    origins !== undefined && origins.length > 0 ? origins.join(" ") : none
  const resources = list(csp?.resourceDomains, "")
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`.trim(),
    `style-src 'unsafe-inline' ${resources}`.trim(),
    `img-src data: ${resources}`.trim(),
    `font-src data: ${resources}`.trim(),
    `connect-src ${list(csp?.connectDomains, "'none'")}`,
    `frame-src ${list(csp?.frameDomains, "'none'")}`,
    `base-uri ${list(csp?.baseUriDomains, "'none'")}`
  ].join("; ")
}

const withCsp = (html: string, policy: string): string =>
  html.replace(/<head>/i, `<head><meta http-equiv="Content-Security-Policy" content="${policy}">`)

window.openView = async (options) => {
  document.body.dataset.theme = options.theme
  const iframe = document.createElement("iframe")
  iframe.setAttribute("sandbox", "allow-scripts")
  iframe.title = "MCP App"
  document.getElementById("frame")!.append(iframe)

  const hostContext: McpUiHostContext = {
    theme: options.theme,
    displayMode: "inline",
    platform: "web",
    toolInfo: { tool: { name: options.toolName, inputSchema: { type: "object" } } },
    // A host sends any subset of the variables; the SDK's Record type lists every key.
    styles: {
      variables: (options.theme === "dark"
        ? { "--color-background-primary": "#171717", "--color-background-secondary": "#0d0d0d", "--color-text-primary": "#e6e6e6" }
        : { "--color-background-primary": "#ffffff", "--color-background-secondary": "#f7f7f7", "--color-text-primary": "#1a1a1a" }) as McpUiStyles
    }
  }
  const bridge = new AppBridge(null, { name: "test-host", version: "1.0.0" }, { serverTools: {}, logging: {} }, { hostContext })
  bridge.oncalltool = (params) => window.mcpCallTool(params)
  bridge.addEventListener("sizechange", ({ height }) => {
    if (height !== undefined) iframe.style.height = `${height}px`
  })
  const initialized = new Promise<void>((resolve) => bridge.addEventListener("initialized", () => resolve()))
  // Listen before the view loads, so its ui/initialize is not missed.
  await bridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!))
  iframe.srcdoc = withCsp(options.html, cspOf(options.csp))
  await initialized
  await bridge.sendToolInput({ arguments: options.args })
  await bridge.sendToolResult(options.result)
}
