/**
 * The services as an Effect library, in the test's own process, against a real sshd.
 */
import { Effect } from "effect"
import type { HostEntry } from "../../src/domain/hosts.js"
import { Connections, HostRegistry } from "../../src/index.js"
import type { Sshd } from "./sshdServer.js"

/** `sshd` as host "box": its key auth (its known_hosts entry is the config's). */
export const boxEntry = (sshd: Sshd): HostEntry => ({
  alias: "box",
  address: sshd.host,
  port: sshd.port,
  user: sshd.user.name,
  auth: { keyPath: sshd.clientKeyPath },
  source: "runtime",
  insecureAutoAdd: false
})

/** Register `sshd` as host "box" and connect to it. */
export const registerBox = (sshd: Sshd) =>
  Effect.gen(function*() {
    yield* (yield* HostRegistry).register(boxEntry(sshd))
    return yield* (yield* Connections).connect("box")
  })
