/**
 * The jobs' port to the hosts (`RemoteHosts`), over `Connections` and `HostRegistry`.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { Connections } from "../services/Connections.js"
import { HostRegistry } from "../services/HostRegistry.js"
import { RemoteHosts } from "../ssh/RemoteHosts.js"

export const remoteHostsLayer: Layer.Layer<RemoteHosts, never, Connections | HostRegistry> = Layer.effect(RemoteHosts)(
  Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry
    return RemoteHosts.of({
      exec: connections.exec,
      connected: Effect.flatMap(registry.list, (hosts) =>
        Effect.filter(hosts.map((h) => h.alias), (alias) => Effect.map(connections.info(alias), (info) => info !== undefined))),
      isConnected: (alias) => Effect.map(connections.info(alias), (info) => info !== undefined),
      closed: connections.closed
    })
  })
)
