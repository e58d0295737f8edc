/**
 * Install the way clients install servers: the npm package as `npm pack` makes it,
 * installed by npm with its production dependencies and run as `npx mcp-ssh-live`, spoken
 * to over stdio; the README's run commands from a clone; and server.json, the MCP Registry
 * entry, valid against the registry's schema and in step with package.json.
 *
 * Nothing here asks the registry: the install is `npm ci --offline` from the tarballs the
 * project's own `npm ci` put in the npm cache (see `installLockfile`).
 */
import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
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
import { initializeBody } from "../support/rawHttp.js"

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

describe("README run commands", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Install and run"), readme.indexOf("## Watch a job live"))
  const fromClone = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("git clone"))!
  // The block's lines after clone and install: the commands that start the server.
  const commands = fromClone.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l !== "" && !l.startsWith("git clone") && !l.startsWith("npm install"))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-run-"))
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  /** Run `command` as a shell in the clone would, speak initialize + tools/list, close stdin. */
  const speak = async (command: string) => {
    const child = spawn("sh", ["-c", command], {
      cwd: ROOT,
      env: {
        PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: fs.mkdtempSync(path.join(tmp, "home-")),
        USER: process.env.USER ?? "root",
        npm_config_update_notifier: "false"
      },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    const answered = (id: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to request ${id}; stdout:\n${stdout}\nstderr:\n${stderr}`)), 60_000)
        const check = () => {
          if (stdout.split("\n").some((l) => l.includes(`"id":${id}`))) {
            clearTimeout(timer)
            child.stdout.off("data", check)
            resolve()
          }
        }
        child.stdout.on("data", check)
        check()
      })
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`)
    send(initializeBody("2025-11-25", 1))
    await answered(1)
    send({ jsonrpc: "2.0", method: "notifications/initialized" })
    send({ jsonrpc: "2.0", id: 2, method: "tools/list" })
    await answered(2)
    child.stdin.end()
    return { stdout, stderr, code: await exited }
  }

  it("start a server whose stdout carries only MCP frames", async () => {
    expect(commands).toContain("node dist/main.js")
    for (const command of commands) {
      const { stdout, stderr, code } = await speak(command)
      const lines = stdout.split("\n")
      expect(lines.pop(), command).toBe("")
      const frames = lines.map((line) => {
        try {
          return JSON.parse(line) as { jsonrpc?: string; id?: number; result?: { tools?: Array<unknown> } }
        } catch {
          throw new Error(`\`${command}\` wrote a line that is not JSON-RPC on stdout: ${JSON.stringify(line)}`)
        }
      })
      for (const frame of frames) expect(frame.jsonrpc, command).toBe("2.0")
      expect(frames.filter((f) => f.id !== undefined).map((f) => f.id), command).toEqual([1, 2])
      expect(frames.find((f) => f.id === 2)?.result?.tools?.length, command).toBeGreaterThan(0)
      // The logs went to stderr, and closing stdin stopped the server.
      expect(stderr, command).toMatch(/ready on stdio/)
      expect(code, `${command}\n${stderr}`).toBe(0)
    }
  }, 120_000)
})

interface LockEntry {
  readonly version?: string
  readonly dev?: boolean
  readonly devOptional?: boolean
  readonly optional?: boolean
  readonly peer?: boolean
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly [key: string]: unknown
}
interface PackedManifest {
  readonly name: string
  readonly version: string
  readonly license?: string
  readonly bin?: Record<string, string>
  readonly engines?: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
}

/**
 * The lockfile of an app whose one dependency is the packed tarball: the tarball's entry,
 * then every package its package.json needs (dependencies, optional dependencies, peers npm
 * installs) at the version and place the project's package-lock.json has, found the way
 * Node resolves (`node_modules/<name>` from the requiring package's place, then upwards).
 * `npm ci` checks the tree against each package's ranges, so a tarball that asks for
 * something the project's production tree does not satisfy fails the install.
 */
const installLockfile = (packed: PackedManifest, tarballRef: string, integrity: string) => {
  const projectLock = readJson("package-lock.json") as { packages: Record<string, LockEntry> }
  const ours: Record<string, unknown> = { resolved: tarballRef, integrity }
  for (const key of ["version", "license", "dependencies", "optionalDependencies", "peerDependencies", "bin", "engines"] as const) {
    if (packed[key] !== undefined) ours[key] = packed[key]
  }
  const packages: Record<string, Record<string, unknown>> = {
    "": { name: "npx-like-app", dependencies: { [packed.name]: tarballRef } },
    [`node_modules/${packed.name}`]: ours
  }
  const place = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
      const candidate = `${dir === "" ? "" : `${dir}/`}node_modules/${name}`
      if (projectLock.packages[candidate] !== undefined) return candidate
      if (dir === "") return undefined
    }
  }
  const needs = (entry: Pick<LockEntry, "dependencies" | "optionalDependencies" | "peerDependencies" | "peerDependenciesMeta">) => [
    ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
    ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ...Object.keys(entry.peerDependencies ?? {})
      .filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true)
      .map((name) => ({ name, optional: false }))
  ]
  const queue: Array<[string, Parameters<typeof needs>[0]]> = [["", packed]]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [from, entry] = next
    for (const need of needs(entry)) {
      const at = place(from, need.name)
      if (at === undefined) {
        if (need.optional) continue // not installed on this platform
        throw new Error(`${need.name}, needed by ${from === "" ? packed.name : from}, is not in package-lock.json`)
      }
      if (packages[at] !== undefined) continue
      // dev/peer flags describe the project's tree; here everything is the app's production tree.
      const { dev: _dev, devOptional, peer: _peer, ...rest } = projectLock.packages[at]!
      packages[at] = devOptional === true ? { ...rest, optional: true } : rest
      queue.push([at, rest])
    }
  }
  return { name: "npx-like-app", lockfileVersion: 3, requires: true, packages }
}

describe("npm package", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-pack-"))
  // npm and npx from PATH, run by the Node running the tests (their shebang is `env node`).
  const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`
  const npm = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
    execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...env, PATH } })
  // The cache the project's `npm ci` filled: it holds every tarball of package-lock.json.
  const cache = npm(["config", "get", "cache"], ROOT).trim()
  const userconfig = npm(["config", "get", "userconfig"], ROOT).trim()
  let tarball = ""
  let files: Array<{ path: string; mode: number }> = []

  beforeAll(() => {
    // `npm test` built dist/ already; `prepare` would build it again.
    const packed = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], ROOT)) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>
    tarball = path.join(tmp, packed[0]!.filename)
    files = packed[0]!.files
  }, 120_000)
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true })
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

  it("installs offline with its production dependencies and one Effect, and `npx mcp-ssh-live` speaks MCP over stdio", async () => {
    const packed = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as PackedManifest
    // Effect is the app's: a peer (npm installs it for `npx -y` too), not a dependency of ours.
    expect(packed.peerDependencies).toEqual({ effect: expect.any(String) })
    expect(Object.keys(packed.dependencies ?? {})).not.toContain("effect")

    // An app with the tarball as its one dependency, as `npx -y mcp-ssh-live` makes in the npm
    // cache (_npx/<hash>), installed by `npm ci --offline`: a tarball missing from the cache
    // fails at once instead of being fetched. Install scripts are skipped: the only ones are
    // ssh2's optional native crypto binding and cpu-features, which need a compiler and Node's
    // headers (npx's install fails them and goes on; ssh2 runs without them).
    const app = path.join(tmp, "app")
    fs.mkdirSync(app)
    const tarballRef = `file:../${path.basename(tarball)}`
    const integrity = `sha512-${createHash("sha512").update(fs.readFileSync(tarball)).digest("base64")}`
    const lock = installLockfile(packed, tarballRef, integrity)
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "npx-like-app", private: true, dependencies: { [pkg.name]: tarballRef } }, null, 2))
    fs.writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(lock, null, 2))
    const env = {
      HOME: fs.mkdtempSync(path.join(tmp, "home-")),
      USER: process.env.USER ?? "root",
      npm_config_cache: cache,
      npm_config_userconfig: userconfig,
      npm_config_update_notifier: "false"
    }
    try {
      npm(["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], app, env)
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr ?? String(e)
      throw new Error(
        "npm ci --offline of the packed tarball failed. ENOTCACHED means npm wanted the registry: " +
          "the packed package.json asks for a version package-lock.json does not have, or the npm cache " +
          `lacks one of the lockfile's tarballs (run \`npm ci\`):\n${stderr}`
      )
    }

    const installed = path.join(app, "node_modules")
    const ours = JSON.parse(fs.readFileSync(path.join(installed, "mcp-ssh-live", "package.json"), "utf8")) as { version: string }
    expect(ours.version).toBe(pkg.version)
    for (const dep of ["ssh2", "effect", "@modelcontextprotocol/server", "@effect/platform-node-shared"]) expect(fs.existsSync(path.join(installed, dep)), dep).toBe(true)
    // What the server does not use is not installed: @effect/platform-node's HTTP client and
    // the redis client it requires as a peer.
    for (const unused of ["@effect/platform-node", "redis", "undici"]) expect(fs.existsSync(path.join(installed, unused)), unused).toBe(false)
    // Dev dependencies that nothing in the production tree needs (@types/node, for one, is
    // also a dependency of a runtime dependency's types) must not be there.
    const productionTree = new Set(Object.keys(lock.packages).map((p) => p.split("node_modules/").pop()!))
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => !productionTree.has(d))
    expect(devOnly).toEqual(expect.arrayContaining(["vitest", "typescript", "@modelcontextprotocol/client", "@anthropic-ai/mcpb"]))
    for (const dev of devOnly) expect(fs.existsSync(path.join(installed, dev)), dev).toBe(false)
    // One Effect: the app's, the server's and the platform package's `effect` are the same module.
    const effectOf = (from: string) =>
      execFileSync(process.execPath, ["--input-type=module", "-e", "console.log(import.meta.resolve('effect'))"], { cwd: from, encoding: "utf8" }).trim()
    const appEffect = effectOf(app)
    expect(appEffect).toContain("/app/node_modules/effect/")
    expect(effectOf(path.join(installed, "mcp-ssh-live"))).toBe(appEffect)
    expect(effectOf(path.join(installed, "@effect", "platform-node-shared"))).toBe(appEffect)
    expect(execFileSync("find", [installed, "-type", "d", "-path", "*/node_modules/effect"], { encoding: "utf8" }).trim().split("\n")).toEqual([path.join(installed, "effect")])

    // `npx mcp-ssh-live` in the app runs the installed bin; --offline: it must not install anything.
    const npxArgs = ["--offline", "--no-install", "mcp-ssh-live"]
    const version = execFileSync("npx", [...npxArgs, "--version"], { cwd: app, env: { ...env, PATH }, encoding: "utf8" })
    expect(version.trim()).toBe(`mcp-ssh-live ${pkg.version}`)
    const transport = new StdioClientTransport({ command: "npx", args: npxArgs, cwd: app, env: { ...env, PATH }, stderr: "pipe" })
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

    // The installed package is also the Effect library the README shows.
    const lib = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('mcp-ssh-live'); console.log(Object.keys(m).join(' '))"], { cwd: app, encoding: "utf8" })
    expect(lib.split(" ")).toEqual(expect.arrayContaining(["Connections", "HostRegistry", "Jobs", "layerConfig"]))
    // And the MCP server is its own entry.
    const mcp = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('mcp-ssh-live/mcp'); console.log(typeof m.makeMcpServer)"], { cwd: app, encoding: "utf8" })
    expect(mcp.trim()).toBe("function")
  }, 180_000)
})
