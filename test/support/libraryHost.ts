/**
 * The services as an Effect library, in the test's own process, against a real sshd.
 */
import { Effect } from "effect"
import { Connections, HostRegistry } from "../../src/index.js"
import type { Sshd } from "./sshdServer.js"

/** Register `sshd` as host "box" (its key auth, its known_hosts entry) and connect to it. */
export const registerBox = (sshd: Sshd) =>
  Effect.gen(function*() {
    const registry = yield* HostRegistry
    yield* registry.register({
      alias: "box",
      address: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      auth: { keyPath: sshd.clientKeyPath },
      source: "runtime",
      insecureAutoAdd: false
    })
    return yield* (yield* Connections).connect("box")
  })
