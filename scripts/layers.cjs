/**
 * The layers of src/, highest first, each a name and a path pattern: a module imports only
 * from its own layer or lower ones. Read by .dependency-cruiser.cjs (the rules) and
 * scripts/graph.ts (the graph in docs/ARCHITECTURE.md).
 */
module.exports = [
  ["main", "^src/(main|cli)\\.ts$"],
  ["mcp", "^src/mcp/"],
  ["library entry", "^src/index\\.ts$"],
  ["layers", "^src/layers/"],
  ["services", "^src/services/"],
  ["config", "^src/config/"],
  ["jobs", "^src/jobs/"],
  ["ssh", "^src/(ssh|transfers)/"],
  ["helpers", "^src/(output|files|tunnels)/|^src/(loopback|version)\\.ts$"],
  ["domain", "^src/domain/"]
]

