/**
 * The package's two entries, as built in dist/ and resolved through package.json `exports`:
 * `mcp-ssh-live` (the Effect library) loads no module of the MCP SDK, and
 * `mcp-ssh-live/mcp` is the server. Each import runs in a fresh Node process whose module
 * resolution hook records every URL resolved.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))

/** Import `specifier` from the package root in a fresh process: what it exports and every module URL it loaded. */
const load = (specifier: string): { readonly exports: ReadonlyArray<string>; readonly loaded: ReadonlyArray<string> } => {
  const script = `
    import { registerHooks } from "node:module"
    const loaded = []
    registerHooks({ resolve: (spec, context, next) => { const r = next(spec, context); loaded.push(r.url); return r } })
    const m = await import(${JSON.stringify(specifier)})
    process.stdout.write(JSON.stringify({ exports: Object.keys(m), loaded }))
  `
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" })) as {
    exports: Array<string>
    loaded: Array<string>
  }
}

const fromMcpSdk = (urls: ReadonlyArray<string>) => urls.filter((u) => u.includes("/node_modules/@modelcontextprotocol/"))

describe("package entries", () => {
  it("mcp-ssh-live (the library) loads no module of @modelcontextprotocol/*", () => {
    const lib = load("mcp-ssh-live")
    expect(lib.exports).toEqual(expect.arrayContaining(["Hosts", "Connections", "HostRegistry", "Jobs", "Exec", "Transfers", "Sftp", "layerConfig"]))
    expect(lib.exports).not.toContain("makeMcpServer")
    expect(lib.loaded.some((u) => u.endsWith("/dist/index.js")), lib.loaded.join("\n")).toBe(true)
    expect(fromMcpSdk(lib.loaded)).toEqual([])
  })

  it("mcp-ssh-live/mcp exports makeMcpServer and loads the MCP SDK", () => {
    const mcp = load("mcp-ssh-live/mcp")
    expect(mcp.exports).toEqual(expect.arrayContaining(["makeMcpServer", "serveOverStdio", "serveOverHttp", "McpLogSink", "tools"]))
    expect(mcp.loaded.some((u) => u.endsWith("/dist/mcp/index.js")), mcp.loaded.join("\n")).toBe(true)
    // The hook sees the SDK when it is loaded: the check above is not vacuous.
    expect(fromMcpSdk(mcp.loaded).length).toBeGreaterThan(0)
  })
})
