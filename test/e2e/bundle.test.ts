/**
 * The MCP Bundle for Claude Desktop: manifest.json validates with mcpb's own validator,
 * `scripts/bundle.ts` (`npm run bundle`) builds the .mcpb, and the bundle, unpacked and
 * started the way a host starts it (mcpb's getMcpConfigForManifest, the code Claude
 * Desktop uses), answers MCP over stdio with the user_config values applied as flags.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { getMcpConfigForManifest, unpackExtension, v0_4, validateManifest } from "@anthropic-ai/mcpb"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describeWithSshd } from "../support/sshd.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const MANIFEST_PATH = path.join(ROOT, "manifest.json")
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>

interface Manifest {
  readonly version: string
  readonly server: { readonly entry_point: string; readonly mcp_config: { readonly args: ReadonlyArray<string> } }
  readonly tools: ReadonlyArray<{ readonly name: string }>
  readonly user_config: Record<string, { readonly type: string }>
}
const manifest = readJson(MANIFEST_PATH) as unknown as Manifest

/** user_config key → the server flag it is passed as. */
const USER_CONFIG_FLAGS = { known_hosts: "--known-hosts", log_dir: "--log-dir", config_file: "--config" } as const

describe("MCPB manifest", () => {
  it("validates with mcpb's validator and its 0.4 schema, the current manifest_version", () => {
    expect(validateManifest(MANIFEST_PATH)).toBe(true)
    const json = readJson(MANIFEST_PATH)
    expect(json.manifest_version).toBe("0.4")
    expect(json.$schema).toBe("https://raw.githubusercontent.com/modelcontextprotocol/mcpb/main/schemas/mcpb-manifest-v0.4.schema.json")
    const parsed = v0_4.McpbManifestSchema.safeParse(json)
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true)
    // The schema is not a yes-machine: an unknown server type is refused.
    expect(v0_4.McpbManifestSchema.safeParse({ ...json, server: { ...manifest.server, type: "deno" } }).success).toBe(false)
  })

  it("has package.json's name and version, and maps each user_config field to a server flag", () => {
    const pkg = readJson(path.join(ROOT, "package.json"))
    expect(readJson(MANIFEST_PATH).name).toBe(pkg.name)
    expect(manifest.version).toBe(pkg.version)
    expect(Object.keys(manifest.user_config).sort()).toEqual(Object.keys(USER_CONFIG_FLAGS).sort())
    const help = execFileSync(process.execPath, [path.join(ROOT, "dist", "main.js"), "--help"]).toString()
    const args = manifest.server.mcp_config.args
    for (const [key, flag] of Object.entries(USER_CONFIG_FLAGS)) {
      expect(help).toContain(flag)
      expect(args[args.indexOf(flag) + 1]).toBe(`\${user_config.${key}}`)
    }
    expect(args[0]).toBe(`\${__dirname}/${manifest.server.entry_point}`)
  })
})

// One build for the file: pack, production install and zip take a while.
let bundlePath = ""
let unpacked = ""
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bundle-"))

beforeAll(() => {
  const out = execFileSync(process.execPath, [path.join(ROOT, "scripts", "bundle.ts")], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  bundlePath = out.trim().split("\n").pop()!
}, 300_000)
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** Start the unpacked bundle as a host would: the manifest's mcp_config with user_config substituted. */
const startBundle = async (userConfig: Record<string, string>, home: string) => {
  const unpackedManifest = JSON.parse(fs.readFileSync(path.join(unpacked, "manifest.json"), "utf8")) as Parameters<typeof getMcpConfigForManifest>[0]["manifest"]
  const config = await getMcpConfigForManifest({
    manifest: unpackedManifest,
    extensionPath: unpacked,
    systemDirs: { HOME: home, DESKTOP: path.join(home, "Desktop"), DOCUMENTS: path.join(home, "Documents"), DOWNLOADS: path.join(home, "Downloads") },
    userConfig,
    pathSeparator: path.sep
  })
  if (config === undefined) throw new Error("getMcpConfigForManifest gave no config")
  expect(config.command).toBe("node")
  // The host runs "node" with its own Node.js; here, the one running the tests.
  const cwd = fs.mkdtempSync(path.join(tmp, "cwd-"))
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: config.args ?? [],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: process.env.USER ?? "root", ...config.env },
    cwd,
    stderr: "pipe"
  })
  const client = new Client({ name: "mcp-ssh-live-bundle-test", version: "0.0.0" })
  await client.connect(transport)
  return { client, args: config.args ?? [], cwd }
}

describe("MCP Bundle", () => {
  it("is built by scripts/bundle.ts and unpacks with the entry point, dist and production dependencies only", async () => {
    expect(path.basename(bundlePath)).toBe(`mcp-ssh-live-${manifest.version}.mcpb`)
    expect(fs.statSync(bundlePath).size).toBeGreaterThan(0)
    unpacked = path.join(tmp, "unpacked")
    expect(await unpackExtension({ mcpbPath: bundlePath, outputDir: unpacked, silent: true })).toBe(true)
    expect(fs.existsSync(path.join(unpacked, manifest.server.entry_point))).toBe(true)
    expect(fs.existsSync(path.join(unpacked, "dist", "main.js"))).toBe(true)
    expect(fs.existsSync(path.join(unpacked, "node_modules", "ssh2"))).toBe(true)
    expect(fs.existsSync(path.join(unpacked, "node_modules", "@modelcontextprotocol", "server"))).toBe(true)
    // effect, a peer of the package, is installed with it; what the server does not use is not.
    expect(fs.existsSync(path.join(unpacked, "node_modules", "effect"))).toBe(true)
    for (const unused of ["@effect/platform-node", "redis"]) expect(fs.existsSync(path.join(unpacked, "node_modules", unused)), unused).toBe(false)
    // The policy's bash parser: its runtime, and the grammar the build puts next to dist/domain/bashParser.js.
    expect(fs.existsSync(path.join(unpacked, "node_modules", "web-tree-sitter"))).toBe(true)
    expect(fs.existsSync(path.join(unpacked, "dist", "domain", "tree-sitter-bash.wasm"))).toBe(true)
    for (const dev of ["vitest", "typescript", "@anthropic-ai/mcpb", "@modelcontextprotocol/client"]) {
      expect(fs.existsSync(path.join(unpacked, "node_modules", dev)), dev).toBe(false)
    }
    for (const absent of ["src", "test", "bench", "examples"]) expect(fs.existsSync(path.join(unpacked, absent)), absent).toBe(false)
    expect(validateManifest(path.join(unpacked, "manifest.json"))).toBe(true)
  })

  it("starts with no user_config set and answers initialize and tools/list", async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"))
    const { client, args, cwd } = await startBundle({}, home)
    try {
      // Unset fields reach the entry point as raw placeholders, which it drops.
      expect(args).toContain("${user_config.log_dir}")
      expect(client.getServerVersion()?.name).toBe("mcp-ssh-live")
      expect(client.getServerVersion()?.version).toBe(manifest.version)
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(manifest.tools.map((t) => t.name).sort())
      const hosts = await client.callTool({ name: "ssh_list_hosts", arguments: {} })
      expect(hosts.isError ?? false).toBe(false)
    } finally {
      await client.close()
    }
    // No directory named after the placeholder was created.
    expect(fs.readdirSync(cwd)).toEqual([])
  })
})

describeWithSshd("MCP Bundle with user_config", (getSshd) => {
  it("passes known_hosts, log dir and config file to the server", async () => {
    const sshd = getSshd()
    const home = fs.mkdtempSync(path.join(tmp, "home-"))
    const logDir = path.join(tmp, "logs")
    fs.mkdirSync(logDir)
    const configFile = path.join(tmp, "config.toml")
    fs.writeFileSync(configFile, `
[hosts.box]
host = "127.0.0.1"
port = ${sshd.port}
user = "${sshd.user.name}"
key = "${sshd.clientKeyPath}"

[hosts.box.policy]
read_only = true
`)
    const { client } = await startBundle({ known_hosts: sshd.knownHostsPath, log_dir: logDir, config_file: configFile }, home)
    try {
      // The config file's host is there, and the empty HOME has no known_hosts: the key
      // is accepted only through the known_hosts file given.
      const exec = await client.callTool({ name: "ssh_exec", arguments: { host: "box", command: "echo bundled" } })
      expect(exec.isError ?? false, JSON.stringify(exec.content)).toBe(false)
      expect((exec.structuredContent as { stdout: string }).stdout).toBe("bundled\n")
      // The policy reads commands with the bundled bash parser.
      const refused = await client.callTool({ name: "ssh_exec", arguments: { host: "box", command: "printf -v 'x[$(id)]' 1" } })
      expect(refused.isError, JSON.stringify(refused.content)).toBe(true)
      expect(JSON.stringify(refused.content)).toContain("printf: unknown option -v")
      const job = await client.callTool({ name: "ssh_spawn", arguments: { host: "box", command: "echo logged-line" } })
      expect(job.isError ?? false, JSON.stringify(job.content)).toBe(false)
      const jobId = (job.structuredContent as { job_id: string }).job_id
      const logFile = path.join(logDir, `${jobId}.log`)
      const deadline = Date.now() + 30_000
      while (!(fs.existsSync(logFile) && fs.readFileSync(logFile, "utf8").includes("logged-line")) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(fs.readFileSync(logFile, "utf8")).toContain("logged-line")
    } finally {
      await client.close()
    }
  })
})
