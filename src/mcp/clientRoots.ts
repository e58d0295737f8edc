/**
 * A stdio client's MCP roots, as local paths, for a transfer to narrow the default
 * `local_roots` with (docs/CONFIG.md, "Local files"). Only over stdio: the client then runs on this machine, so
 * its `file://` roots name our files; over HTTP they name another machine's and are never
 * asked for. A 2025-era session is asked with `roots/list` once, and again after
 * `notifications/roots/list_changed`; a 2026-07-28 call asks in its own round
 * (`inputRequired.listRoots`, see register.ts). Roots only ever narrow: a client that says
 * nothing, or nothing but non-file roots, leaves the defaults as they are.
 *
 * @since 0.2.0
 */
import { fileURLToPath } from "node:url"
import type { McpServer } from "@modelcontextprotocol/server"
import { Effect } from "effect"
import type { ToolContext } from "./tools/Tool.js"

/** The local paths of `roots` (file URIs only), or undefined when there are none. */
export const rootPaths = (roots: ReadonlyArray<{ readonly uri: string }>): ReadonlyArray<string> | undefined => {
  const paths: Array<string> = []
  for (const r of roots) {
    if (!r.uri.startsWith("file:")) continue
    try {
      paths.push(fileURLToPath(r.uri))
    } catch {
      // A file URI of another host or with a malformed path names nothing here.
    }
  }
  return paths.length > 0 ? paths : undefined
}

/** The last answer of each 2025-era session's client, until it says its roots changed. */
const asked = new WeakMap<McpServer, Promise<ReadonlyArray<string> | undefined>>()

/** Forget `server`'s client roots when the client says they changed (register once per server). */
export const watchRootsChanges = (server: McpServer): void => {
  server.server.setNotificationHandler("notifications/roots/list_changed", () => {
    asked.delete(server)
  })
}

/**
 * A 2025-era session's client roots: undefined when the client did not declare the `roots`
 * capability. A failed `roots/list` leaves the defaults (and is asked again next time).
 */
export const legacyClientRoots = (server: McpServer): ToolContext["clientRoots"] => {
  if (server.server.getClientCapabilities()?.roots === undefined) return undefined
  return Effect.promise(() => {
    let answer = asked.get(server)
    if (answer === undefined) {
      answer = server.server.listRoots().then((r) => rootPaths(r.roots))
      asked.set(server, answer)
      answer.catch(() => asked.delete(server))
    }
    return answer.catch(() => undefined)
  })
}
