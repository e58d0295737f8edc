/**
 * Build the MCP Bundle (`.mcpb`) for one-click install in Claude Desktop:
 * `npm run bundle` → build/mcp-ssh-live-<version>.mcpb.
 *
 * The bundle holds exactly what the npm package holds (`npm pack`, so `files` in
 * package.json decides), the entry point scripts/bundle-entry.js as server/index.js,
 * manifest.json, and the production dependencies installed from package-lock.json.
 * Install scripts are skipped: ssh2's optional native crypto binding would be built for
 * this machine only, and ssh2 runs without it on every platform.
 *
 * Needs dist/ built first (`npm run bundle` does it). Prints the bundle's path.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { packExtension, validateManifest } from "@anthropic-ai/mcpb/cli"

const root = fileURLToPath(new URL("..", import.meta.url))
const buildDir = path.join(root, "build")
const staging = path.join(buildDir, "bundle")

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>

const pkg = readJson(path.join(root, "package.json"))
const manifest = readJson(path.join(root, "manifest.json"))
if (manifest.version !== pkg.version) {
  throw new Error(`manifest.json version ${String(manifest.version)} differs from package.json version ${String(pkg.version)}`)
}
if (!fs.existsSync(path.join(root, "dist", "main.js"))) {
  throw new Error("dist/main.js is missing: run `npm run build` first (`npm run bundle` does)")
}

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })

fs.rmSync(staging, { recursive: true, force: true })
fs.mkdirSync(staging, { recursive: true })

// The package's own files, as the registry would serve them.
const packed = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", buildDir], root)) as Array<{ filename: string }>
const tarball = path.join(buildDir, packed[0]!.filename)
execFileSync("tar", ["-xzf", tarball, "-C", staging, "--strip-components=1"])
fs.rmSync(tarball)

fs.copyFileSync(path.join(root, "manifest.json"), path.join(staging, "manifest.json"))
fs.mkdirSync(path.join(staging, "server"))
fs.copyFileSync(path.join(root, "scripts", "bundle-entry.js"), path.join(staging, "server", "index.js"))
fs.chmodSync(path.join(staging, "server", "index.js"), 0o755)

// Production dependencies at the lockfile's versions (mcpb leaves package-lock.json out of the zip).
fs.copyFileSync(path.join(root, "package-lock.json"), path.join(staging, "package-lock.json"))
npm(["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], staging)

if (!validateManifest(path.join(staging, "manifest.json"))) {
  throw new Error("manifest.json does not validate against the MCPB manifest schema")
}
const output = path.join(buildDir, `${String(pkg.name)}-${String(pkg.version)}.mcpb`)
fs.rmSync(output, { force: true })
if (!(await packExtension({ extensionPath: staging, outputPath: output, silent: true }))) {
  throw new Error("mcpb pack failed")
}

const bytes = fs.readFileSync(output)
process.stderr.write(
  `bundle: ${path.relative(root, output)} (${(bytes.length / 1024 / 1024).toFixed(1)} MiB, sha256 ${createHash("sha256").update(bytes).digest("hex")})\n`
)
process.stdout.write(`${output}\n`)
