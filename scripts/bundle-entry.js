#!/usr/bin/env node
// Entry point of the MCP Bundle (copied to server/index.js by scripts/bundle.ts).
//
// manifest.json maps each user_config field to a flag ("--log-dir", "${user_config.log_dir}").
// A field the user left empty is not substituted by the host (mcpb's getMcpConfigForManifest
// keeps the placeholder as it is), so drop such flags and let the server use its defaults.
const placeholder = /^\$\{user_config\.[^}]*\}$/
const unset = (value) => value === "" || placeholder.test(value)

const given = process.argv.slice(2)
const kept = []
for (let i = 0; i < given.length; i++) {
  const arg = given[i]
  if (arg.startsWith("--") && i + 1 < given.length && unset(given[i + 1])) {
    i++
    continue
  }
  if (!unset(arg)) kept.push(arg)
}
process.argv.splice(2, process.argv.length - 2, ...kept)

await import("../dist/main.js")
