/**
 * Install the way clients install servers: the npm package as `npm pack` makes it, run
 * through `npx -y --package=<tarball> mcp-ssh-live` (what `npx -y mcp-ssh-live` does with the published one) and
 * spoken to over stdio; and server.json, the MCP Registry entry, valid against the
 * registry's schema and in step with package.json.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { Ajv } from "ajv"
import addFormatsModule from "ajv-formats"
import { parse as parseToml } from "smol-toml"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as Record<string, unknown>
const pkg = readJson("package.json") as { name: string; version: string; mcpName: string; devDependencies: Record<string, string> }
const help = () => execFileSync(process.execPath, [path.join(ROOT, "dist", "main.js"), "--help"]).toString()

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module object.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }

interface RegistryInput { readonly name: string; readonly isSecret?: boolean; readonly isRequired?: boolean; readonly value?: string }
interface RegistryPackage {
  readonly registryType: string
  readonly identifier: string
  readonly version: string
  readonly transport: { readonly type: string; readonly url?: string; readonly headers?: ReadonlyArray<RegistryInput> }
  readonly packageArguments?: ReadonlyArray<{ readonly type: string; readonly name?: string; readonly value?: string }>
  readonly environmentVariables?: ReadonlyArray<RegistryInput>
}

describe("server.json (MCP Registry)", () => {
  // test/fixtures/server.schema.json: the registry's published 2025-12-11 schema (see test/fixtures/README.md).
  const schema = readJson("test/fixtures/server.schema.json")
  const serverJson = readJson("server.json")
  const validator = () => {
    const ajv = new Ajv({ allErrors: true, strict: false })
    addFormats.default(ajv)
    return ajv.compile(schema)
  }

  it("is valid against the registry's server.json schema it names", () => {
    expect(serverJson.$schema).toBe(schema.$id)
    expect(serverJson.$schema).toBe("https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json")
    const validate = validator()
    expect(validate(serverJson), JSON.stringify(validate.errors, null, 2)).toBe(true)
    // The validator is not a yes-machine: the registry's 100-character description limit bites.
    expect(validate({ ...serverJson, description: "x".repeat(101) })).toBe(false)
  })

  it("names the npm package of package.json, whose mcpName is the server's name", () => {
    expect(serverJson.name).toBe(pkg.mcpName)
    expect(serverJson.version).toBe(pkg.version)
    const packages = serverJson.packages as ReadonlyArray<RegistryPackage>
    expect(packages.length).toBe(2)
    for (const p of packages) {
      expect(p.registryType).toBe("npm")
      expect(p.identifier).toBe(pkg.name)
      expect(p.version).toBe(pkg.version)
    }
  })

  it("declares stdio and Streamable HTTP variants whose flags the server has, the token as a secret", () => {
    const packages = serverJson.packages as ReadonlyArray<RegistryPackage>
    const flags = help()
    for (const p of packages) {
      for (const arg of p.packageArguments ?? []) {
        const flag = arg.type === "named" ? arg.name! : arg.value!
        expect(flags, flag).toContain(flag)
      }
    }
    const stdio = packages.find((p) => p.transport.type === "stdio")!
    expect(stdio.packageArguments?.some((a) => a.value === "--http")).toBe(false)
    const http = packages.find((p) => p.transport.type === "streamable-http")!
    expect(http.packageArguments?.some((a) => a.type === "positional" && a.value === "--http")).toBe(true)
    expect(http.transport.url).toBe("http://127.0.0.1:{--port}/mcp")
    const token = http.environmentVariables?.find((e) => e.name === "MCP_SSH_LIVE_TOKEN")
    expect(token?.isSecret).toBe(true)
    expect(token?.isRequired).toBe(true)
    expect(flags).toContain("MCP_SSH_LIVE_TOKEN")
    const auth = http.transport.headers?.find((h) => h.name === "Authorization")
    expect(auth?.isSecret).toBe(true)
    expect(auth?.value).toBe("Bearer {MCP_SSH_LIVE_TOKEN}")
    // Every environment variable declared is one the server reads.
    const source = fs.readdirSync(path.join(ROOT, "dist"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".js"))
      .map((f) => fs.readFileSync(path.join(ROOT, "dist", f), "utf8"))
      .join("\n")
    for (const p of packages) for (const e of p.environmentVariables ?? []) expect(source, e.name).toContain(e.name)
  })
})

describe("README registration snippets", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Register it with a client"), readme.indexOf("## Tools"))
  const blocks = (lang: string) => [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!)
  const npx = { command: "npx", args: ["-y", "mcp-ssh-live"] }

  it("are valid JSON / TOML in each client's shape, all running npx -y mcp-ssh-live", () => {
    const json = blocks("json").map((b) => JSON.parse(b) as Record<string, Record<string, Record<string, unknown>>>)
    const claude = json.find((j) => "mcpServers" in j)!
    expect(claude.mcpServers!["ssh-live"]).toMatchObject(npx)
    const vscode = json.find((j) => "servers" in j)!
    expect(vscode.servers!["ssh-live"]).toMatchObject({ type: "stdio", ...npx })
    const zed = json.find((j) => "context_servers" in j)!
    expect(zed.context_servers!["ssh-live"]).toMatchObject(npx)
    const [codex] = blocks("toml").map((b) => parseToml(b) as { mcp_servers: Record<string, Record<string, unknown>> })
    expect(codex!.mcp_servers["ssh-live"]).toMatchObject(npx)
    expect(blocks("sh").join("\n")).toContain("claude mcp add --scope user ssh-live -- npx -y mcp-ssh-live")
  })
})

describe("npm package", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-pack-"))
  // npm and npx from PATH, run by the Node running the tests (their shebang is `env node`).
  const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`
  const npm = (args: ReadonlyArray<string>, cwd: string) =>
    execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PATH } })
  // npx installs into the npm cache (_npx/<hash>): the usual one, so that the runtime
  // dependencies `npm ci` already cached are found there.
  const cache = npm(["config", "get", "cache"], ROOT).trim()
  const userconfig = npm(["config", "get", "userconfig"], ROOT).trim()
  const npxRoot = path.join(cache, "_npx")
  const npxBefore = new Set(fs.existsSync(npxRoot) ? fs.readdirSync(npxRoot) : [])
  let tarball = ""
  let files: Array<{ path: string; mode: number }> = []

  beforeAll(() => {
    // `npm test` built dist/ already; `prepare` would build it again.
    const packed = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], ROOT)) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>
    tarball = path.join(tmp, packed[0]!.filename)
    files = packed[0]!.files
  }, 120_000)
  /** npx install directories this file created (each names the tarball's path, so a new one per run). */
  const npxCreated = () =>
    (fs.existsSync(npxRoot) ? fs.readdirSync(npxRoot) : [])
      .filter((d) => !npxBefore.has(d) && fs.existsSync(path.join(npxRoot, d, "node_modules", "mcp-ssh-live")))
      .map((d) => path.join(npxRoot, d))
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true })
    for (const dir of npxCreated()) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("carries the built dist, README and docs, and no sources, tests, benchmarks, examples or source maps", () => {
    const paths = files.map((f) => f.path)
    for (const needed of ["package.json", "README.md", "dist/main.js", "dist/index.js", "dist/index.d.ts", "dist/mcp/index.js", "dist/mcp/index.d.ts", "dist/mcp/apps/view/index.html", "dist/domain/tree-sitter-bash.wasm", "docs/CONFIG.md", "docs/TOOLS.md"]) {
      expect(paths, needed).toContain(needed)
    }
    // src/*.ts are not needed: the package runs and type-checks from dist (.js + .d.ts).
    const unwanted = paths.filter((p) =>
      /^(src|test|bench|examples|scripts|build|node_modules)\//.test(p) || p.endsWith(".map") || (p.endsWith(".ts") && !p.endsWith(".d.ts"))
    )
    expect(unwanted).toEqual([])
    expect(paths.every((p) => /^(dist|docs)\//.test(p) || ["package.json", "README.md", "LICENSE"].includes(p)), paths.join(" ")).toBe(true)
  })

  it("has dist/main.js as an executable bin with a node shebang", () => {
    expect(pkg.name).toBe("mcp-ssh-live")
    expect(readJson("package.json").bin).toEqual({ "mcp-ssh-live": "dist/main.js" })
    expect(files.find((f) => f.path === "dist/main.js")!.mode & 0o111).toBe(0o111)
    const main = execFileSync("tar", ["-xzOf", tarball, "package/dist/main.js"], { encoding: "utf8" })
    expect(main.split("\n")[0]).toBe("#!/usr/bin/env node")
  })

  it("runs through `npx -y --package=<tarball> mcp-ssh-live` and speaks MCP over stdio, with no dev dependency installed", async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"))
    // `npx -y mcp-ssh-live` with the package taken from the tarball instead of the registry.
    const npxArgs = ["-y", "--prefer-offline", "--no-audit", "--no-fund", `--package=${tarball}`, "mcp-ssh-live"]
    const env = {
      PATH,
      HOME: home,
      USER: process.env.USER ?? "root",
      npm_config_cache: cache,
      npm_config_userconfig: userconfig,
      npm_config_update_notifier: "false"
    }
    // The first run installs (which can outlast an MCP client's initialize timeout); a
    // client's next start finds the install in place, as this session does.
    const version = execFileSync("npx", [...npxArgs, "--version"], { cwd: tmp, env, encoding: "utf8", timeout: 240_000 })
    expect(version.trim()).toBe(`mcp-ssh-live ${pkg.version}`)
    const transport = new StdioClientTransport({ command: "npx", args: npxArgs, cwd: tmp, env, stderr: "pipe" })
    let stderr = ""
    ;(transport.stderr as NodeJS.ReadableStream | null)?.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    const client = new Client({ name: "mcp-ssh-live-package-test", version: "0.0.0" })
    try {
      await client.connect(transport)
      expect(client.getServerVersion()).toMatchObject({ name: "mcp-ssh-live", version: pkg.version })
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["ssh_connect", "ssh_exec", "ssh_spawn", "ssh_tail", "ssh_list_hosts"]))
      const hosts = await client.callTool({ name: "ssh_list_hosts", arguments: {} })
      expect(hosts.isError ?? false, JSON.stringify(hosts.content)).toBe(false)
      expect(hosts.structuredContent).toMatchObject({ hosts: [] })
      // The live job view (an MCP App) is served from the installed package's dist/.
      const view = await client.readResource({ uri: "ui://ssh/job" })
      expect(view.contents).toEqual([expect.objectContaining({ mimeType: "text/html;profile=mcp-app", text: expect.stringMatching(/^<!doctype html>/i) })])
    } catch (e) {
      throw new Error(`${String(e)}\nstderr of npx:\n${stderr}`)
    } finally {
      await client.close()
    }

    const created = npxCreated()
    expect(created.length).toBe(1)
    const npxDir = created[0]!
    const installed = path.join(npxDir, "node_modules")
    const ours = JSON.parse(fs.readFileSync(path.join(installed, "mcp-ssh-live", "package.json"), "utf8")) as { version: string }
    expect(ours.version).toBe(pkg.version)
    for (const dep of ["ssh2", "effect", "@modelcontextprotocol/server"]) expect(fs.existsSync(path.join(installed, dep)), dep).toBe(true)
    // Dev dependencies that nothing in the production tree needs (@types/node, for one, is
    // also a dependency of a runtime dependency's types) must not be there.
    const productionTree = new Set(
      npm(["ls", "--omit=dev", "--all", "--parseable"], ROOT).split("\n").map((p) => p.split("/node_modules/").pop()!)
    )
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => !productionTree.has(d))
    expect(devOnly).toEqual(expect.arrayContaining(["vitest", "typescript", "@modelcontextprotocol/client", "@anthropic-ai/mcpb"]))
    for (const dev of devOnly) expect(fs.existsSync(path.join(installed, dev)), dev).toBe(false)

    // The installed package is also the Effect library the README shows.
    const lib = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('mcp-ssh-live'); console.log(Object.keys(m).join(' '))"], { cwd: npxDir, encoding: "utf8" })
    expect(lib.split(" ")).toEqual(expect.arrayContaining(["Connections", "HostRegistry", "Jobs", "layerConfig"]))
    // And the MCP server is its own entry.
    const mcp = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('mcp-ssh-live/mcp'); console.log(typeof m.makeMcpServer)"], { cwd: npxDir, encoding: "utf8" })
    expect(mcp.trim()).toBe("function")
  }, 300_000)
})
