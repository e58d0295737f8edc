/**
 * The import rules of src/ (`npm run lint:deps`, part of `npm test`) and the graph in
 * docs/ARCHITECTURE.md (`npm run graph`). Layers, highest first; a module imports
 * only from its own layer or lower ones (scripts/layers.cjs). docs/ARCHITECTURE.md says why each sits where.
 */
const layers = require("./scripts/layers.cjs")

const upward = layers.slice(1).map(([name, path], i) => ({
  name: `no-upward-from-${name.replace(/ /g, "-")}`,
  comment: `${name} imports only from its own layer or lower ones (${layers.slice(i + 2).map(([n]) => n).join(", ") || "nothing"})`,
  severity: "error",
  from: { path },
  to: { path: layers.slice(0, i + 1).map(([, p]) => p).join("|") }
}))

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycles",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true }
    },
    ...upward,
    {
      name: "every-module-in-a-layer",
      comment: "a new place in src/ gets a layer in scripts/layers.cjs first",
      severity: "error",
      from: { path: "^src/", pathNot: layers.map(([, p]) => p).join("|") },
      to: {}
    },
    {
      name: "every-import-in-a-layer",
      comment: "a new place in src/ gets a layer in scripts/layers.cjs first",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/", pathNot: layers.map(([, p]) => p).join("|") }
    },
    {
      name: "src-not-test",
      comment: "src/ never imports test code",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|examples)/" }
    },
    {
      name: "library-without-mcp",
      comment:
        "the library entry (src/index.ts) and what it imports never load the MCP SDK: the server is " +
        "the mcp-ssh-live/mcp entry (src/mcp/index.ts)",
      severity: "error",
      from: { path: "^src/index\\.ts$" },
      to: { path: "@modelcontextprotocol/", reachable: true }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // test/, bench/ and examples/ are included so that an import of them from src/ is seen.
    includeOnly: "^(src|test|bench|examples)/|node_modules/@modelcontextprotocol/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".d.ts"]
    },
    reporterOptions: {
      mermaid: { minify: false }
    }
  }
}
