/**
 * Port forwarding through a host: local (`ssh -L`: we listen, each connection becomes a
 * stream from the host to the target), remote (`ssh -R`: sshd listens on the host, each
 * connection is joined to the target on our side) and dynamic (`ssh -D`: a SOCKS5 proxy
 * here, each CONNECT a stream from the host, names resolved there).
 *
 * A tunnel is a scoped resource of its host: `closeHost` (ssh_disconnect) and the service's
 * scope (shutdown) close it and release its port. When the host's connection drops and comes
 * back, local and dynamic tunnels keep listening and open new streams on the new connection;
 * a remote one is requested again on it, on the same port.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type * as net from "node:net"
import { Context, Effect, Exit, FiberSet, Layer, Scope, Semaphore } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import {
  type BindError,
  type ConnectFailure,
  type ForwardRefusedError,
  type HostNotFoundError,
  type InvalidArgumentError,
  LimitReachedError,
  TunnelNotFoundError
} from "../domain/errors.js"
import type { TunnelInfo, TunnelRequest, TunnelStatus } from "../domain/tunnels.js"
import { type ForwardOut, forwardLocal, forwardSocks } from "../tunnels/forward.js"
import { listen } from "../tunnels/listen.js"
import { keepRemote, onRemoteConnection } from "../tunnels/remote.js"
import { admit, newTraffic, type Traffic } from "../tunnels/traffic.js"
import { validate } from "../tunnels/validate.js"
import { Connections } from "./Connections.js"
import { HostRegistry } from "./HostRegistry.js"

export type { TunnelInfo, TunnelRequest, TunnelStatus }

export type TunnelOpenError =
  | ConnectFailure
  | HostNotFoundError
  | InvalidArgumentError
  | LimitReachedError
  | BindError
  | ForwardRefusedError

interface Tunnel {
  readonly info: TunnelInfo
  readonly traffic: Traffic
  /** Closing it stops listening and ends every stream of the tunnel. */
  readonly scope: Scope.Closeable
}

export class Tunnels extends Context.Service<Tunnels, {
  /** Open a tunnel through `host`; listening (locally or on the host) when it returns. */
  open(request: TunnelRequest): Effect.Effect<TunnelInfo, TunnelOpenError>
  /** Every open tunnel with its traffic. */
  readonly list: Effect.Effect<ReadonlyArray<TunnelStatus>>
  /** Stop listening and end the tunnel's connections. */
  close(tunnelId: string): Effect.Effect<TunnelInfo, TunnelNotFoundError>
  /** Close every tunnel of `host` (before it is disconnected); returns their ids. */
  closeHost(host: string): Effect.Effect<ReadonlyArray<string>>
}>()("mcp-ssh-live/Tunnels") {
  /** Needs AppConfig, HostRegistry and Connections. */
  static readonly layer = Layer.effect(Tunnels)(Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* HostRegistry
    const connections = yield* Connections
    const layerScope = yield* Effect.scope
    const tunnels = new Map<string, Tunnel>()
    // One open at a time: the per-host cap is checked and taken in one step.
    const opening = yield* Semaphore.make(1)
    const maxConnections = config.limits.maxTunnelConnections

    /** Listen (here or on the host) in `scope`; returns the port listened on. */
    const start = (alias: string, request: TunnelRequest, bindAddress: string, traffic: Traffic, scope: Scope.Scope) =>
      Effect.gen(function*() {
        const run = yield* Scope.provide(FiberSet.makeRuntime<never, void, never>(), scope)
        if (request.kind === "remote") {
          const host = request.targetHost!
          const port = request.targetPort!
          const ask = (p: number) => connections.forwardIn(alias, bindAddress, p, onRemoteConnection(traffic, maxConnections, host, port))
          const firstScope = yield* Scope.fork(scope)
          const listener = yield* Scope.provide(ask(request.bindPort), firstScope)
          const first = { closed: listener.closed, scope: firstScope }
          yield* Effect.forkIn(keepRemote(alias, scope, traffic, ask, listener.port, first, config.limits.reconnectDelaySec), scope)
          return listener.port
        }
        const forwardOut: ForwardOut = (host, port, origin) => connections.forwardOut(alias, host, port, origin)
        const onSocket = request.kind === "local"
          ? (socket: net.Socket) => {
            if (admit(traffic, socket, maxConnections)) run(forwardLocal(forwardOut, traffic, socket, request.targetHost!, request.targetPort!))
          }
          : (socket: net.Socket) => {
            if (admit(traffic, socket, maxConnections)) run(forwardSocks(forwardOut, traffic, socket))
          }
        const listening = yield* Scope.provide(listen(bindAddress, request.bindPort, onSocket), scope)
        return listening.port
      })

    const open = Effect.fn("Tunnels.open")(function*(request: TunnelRequest) {
      yield* validate(request, config.allowTunnelBindAny)
      const entry = yield* registry.resolve(request.host)
      const alias = entry.alias
      const bindAddress = request.bindAddress ?? "127.0.0.1"
      return yield* opening.withPermit(Effect.gen(function*() {
        const open = [...tunnels.values()].filter((t) => t.info.host === alias).length
        if (open >= config.limits.maxTunnelsPerHost) {
          return yield* new LimitReachedError({
            message: `${open} tunnels are open on ${alias}, the limit (max_tunnels_per_host) is ${config.limits.maxTunnelsPerHost}`,
            hint: "ssh_tunnel_close one you no longer need; the operator sets --max-tunnels-per-host",
            host: alias,
            limit: "max_tunnels_per_host",
            max: config.limits.maxTunnelsPerHost
          })
        }
        // Connected first, as ssh is: a host that cannot be reached fails the call, not each connection.
        yield* connections.connect(alias)
        const traffic = newTraffic()
        const scope = yield* Scope.fork(layerScope)
        yield* Scope.addFinalizer(scope, Effect.sync(() => {
          for (const s of traffic.streams) s.destroy()
        }))
        const bindPort = yield* start(alias, request, bindAddress, traffic, scope).pipe(
          Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
        )
        const info: TunnelInfo = {
          tunnelId: `tun-${randomBytes(4).toString("hex")}`,
          host: alias,
          kind: request.kind,
          bindAddress,
          bindPort,
          targetHost: request.targetHost,
          targetPort: request.targetPort
        }
        tunnels.set(info.tunnelId, { info, traffic, scope })
        yield* Effect.logInfo(`tunnel ${info.tunnelId} (${info.kind}) on ${alias}: ${bindAddress}:${bindPort}${info.targetHost !== undefined ? ` -> ${info.targetHost}:${info.targetPort}` : ""}`)
        return info
      }))
    })

    const closeTunnel = (t: Tunnel) =>
      Effect.gen(function*() {
        tunnels.delete(t.info.tunnelId)
        yield* Scope.close(t.scope, Exit.void)
        yield* Effect.logInfo(`tunnel ${t.info.tunnelId} closed`)
      })

    const close = Effect.fn("Tunnels.close")(function*(tunnelId: string) {
      const t = tunnels.get(tunnelId)
      if (t === undefined) {
        return yield* new TunnelNotFoundError({
          message: `no tunnel with id '${tunnelId}'`,
          hint: tunnels.size === 0 ? "no tunnel is open" : "ssh_tunnel_list shows the open ones"
        })
      }
      yield* closeTunnel(t)
      return t.info
    })

    // After any open under way, so that no tunnel of the host is left behind.
    const closeHost = (host: string) =>
      opening.withPermit(Effect.gen(function*() {
        const mine = [...tunnels.values()].filter((t) => t.info.host === host)
        yield* Effect.forEach(mine, closeTunnel, { discard: true })
        return mine.map((t) => t.info.tunnelId)
      }))

    const list = Effect.sync(() =>
      [...tunnels.values()].map((t): TunnelStatus => ({
        ...t.info,
        connections: t.traffic.connections,
        bytesIn: t.traffic.bytesIn,
        bytesOut: t.traffic.bytesOut,
        failedConnections: t.traffic.failed,
        lastError: t.traffic.lastError
      }))
    )

    return Tunnels.of({ open, list, close, closeHost })
  }))
}
