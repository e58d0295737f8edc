/**
 * `npm run graph`: the import graph of src/, folders collapsed, as a Mermaid flowchart
 * grouped by layer (scripts/layers.cjs), written into docs/ARCHITECTURE.md between the
 * graph markers. Nodes and edges are sorted, so the output only changes with the imports.
 * `--check` (part of `npm run lint:deps`) fails when the doc is out of date.
 */
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { writeBetweenMarkers } from "./markers.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const layers: ReadonlyArray<readonly [string, string]> = createRequire(import.meta.url)("./layers.cjs")

interface Cruised {
  readonly modules: ReadonlyArray<{ readonly source: string; readonly dependencies: ReadonlyArray<{ readonly resolved: string }> }>
}

const json = execFileSync(process.execPath, [
  "node_modules/dependency-cruiser/bin/dependency-cruiser.mjs", "src",
  "--config", ".dependency-cruiser.cjs", "--ignore-known", "--output-type", "json",
  "--collapse", "^src/[^/]+/|^node_modules/@modelcontextprotocol/[^/]+"
], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 })
const cruised = JSON.parse(json) as Cruised

/** `src/services/` → `services/`, `src/main.ts` → `main.ts`, the SDK → `MCP SDK`. */
const label = (source: string) =>
  source.startsWith("node_modules/@modelcontextprotocol/") ? "MCP SDK" : source.replace(/^src\//, "")
const id = (source: string) => label(source).replace(/[^A-Za-z0-9]/g, "_")
const layerOf = (source: string) => layers.find(([, pattern]) => new RegExp(pattern).test(source))?.[0] ?? "outside"

const nodes = [...new Set(cruised.modules.map((m) => m.source))].sort()
const edges = [...new Set(cruised.modules.flatMap((m) =>
  m.dependencies.filter((d) => d.resolved !== m.source).map((d) => `  ${id(m.source)} --> ${id(d.resolved)}`)
))].sort()

const lines = ["```mermaid", "flowchart TD"]
for (const [name] of [...layers, ["outside"] as const]) {
  const members = nodes.filter((n) => layerOf(n) === name)
  if (members.length === 0) continue
  lines.push(`  subgraph ${name.replace(/ /g, "_")}_layer ["${name}"]`)
  for (const n of members) lines.push(`    ${id(n)}["${label(n)}"]`)
  lines.push("  end")
}
lines.push(...edges, "```")

writeBetweenMarkers(`${root}docs/ARCHITECTURE.md`, "graph", lines.join("\n"))
