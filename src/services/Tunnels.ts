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
import * as net from "node:net"
import type { Duplex } from "node:stream"
import { Context, Duration, Effect, Exit, FiberSet, Layer, Scope, Semaphore } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import {
  type ConnectFailure,
  type ForwardRefusedError,
  type HostNotFoundError,
  InvalidArgumentError,
  LimitReachedError,
  type PortInUseError,
  TunnelNotFoundError
} from "../domain/errors.js"
import type { TunnelInfo, TunnelRequest, TunnelStatus } from "../domain/tunnels.js"
import { isLoopback } from "../loopback.js"
import { listen } from "../tunnels/listen.js"
import { relay } from "../tunnels/relay.js"
import {
  MAX_HANDSHAKE_BYTES,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  methodReply,
  parseGreeting,
  parseRequest,
  Reply,
  replyForRefusal,
  requestReply,
  type ConnectRequest as SocksTarget
} from "../tunnels/socks5.js"
import { Connections } from "./Connections.js"
import { HostRegistry } from "./HostRegistry.js"

export type { TunnelInfo, TunnelRequest, TunnelStatus }

export type TunnelOpenError =
  | ConnectFailure
  | HostNotFoundError
  | InvalidArgumentError
  | LimitReachedError
  | PortInUseError
  | ForwardRefusedError

/** How long a SOCKS client may take to say where it goes. */
const SOCKS_HANDSHAKE_MS = 10_000
/** The longest wait between two attempts to bring a remote forward back. */
const MAX_RETRY_DELAY_MS = 30_000

/** A tunnel's traffic and its open streams (the ones it accepted and the ones it opened). */
interface Traffic {
  connections: number
  bytesIn: number
  bytesOut: number
  failed: number
  lastError: string | undefined
  readonly streams: Set<Duplex>
}

interface Tunnel {
  readonly info: TunnelInfo
  readonly traffic: Traffic
  /** Closing it stops listening and ends every stream of the tunnel. */
  readonly scope: Scope.Closeable
}

const validate = (request: TunnelRequest, allowBindAny: boolean): Effect.Effect<void, InvalidArgumentError> => {
  const bad = (message: string, hint?: string) =>
    Effect.fail(new InvalidArgumentError(hint === undefined ? { message } : { message, hint }))
  const { kind } = request
  if (!Number.isInteger(request.bindPort) || request.bindPort < 0 || request.bindPort > 65535) {
    return bad(`bind_port: expected 0-65535 (0 picks a free port), got ${request.bindPort}`)
  }
  if (kind === "dynamic") {
    if (request.targetHost !== undefined) return bad("target_host: not used by a dynamic tunnel (the SOCKS client names each target)")
    if (request.targetPort !== undefined) return bad("target_port: not used by a dynamic tunnel (the SOCKS client names each target)")
  } else {
    if (request.targetHost === undefined) return bad(`target_host: required for a ${kind} tunnel`)
    if (request.targetPort === undefined) return bad(`target_port: required for a ${kind} tunnel`)
    if (request.targetHost === "" || request.targetHost.length > 255 || request.targetHost.includes("\u0000")) {
      return bad("target_host: expected a host name or address of 1-255 characters")
    }
    if (!Number.isInteger(request.targetPort) || request.targetPort < 1 || request.targetPort > 65535) {
      return bad(`target_port: expected 1-65535, got ${request.targetPort}`)
    }
  }
  const bindAddress = request.bindAddress ?? "127.0.0.1"
  if (bindAddress === "" || bindAddress.length > 255 || bindAddress.includes("\u0000")) {
    return bad("bind_address: expected an address of 1-255 characters")
  }
  if (kind !== "remote" && !isLoopback(bindAddress) && !allowBindAny) {
    return bad(
      `bind_address: ${bindAddress} is not a loopback address; a tunnel listening beyond this machine needs the server flag --allow-tunnel-bind-any`,
      "use 127.0.0.1 (the default), ::1 or localhost; or ask the operator to start the server with --allow-tunnel-bind-any ([server] allow_tunnel_bind_any)"
    )
  }
  return Effect.void
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

    const failed = (traffic: Traffic, why: string) => {
      traffic.failed++
      traffic.lastError = why
    }

    /** Count and track an accepted stream; false (and it is closed) past the cap. */
    const admit = (traffic: Traffic, client: Duplex): boolean => {
      if (traffic.connections >= maxConnections) {
        failed(traffic, `refused a connection: ${maxConnections} already open (max_tunnel_connections)`)
        client.destroy()
        return false
      }
      traffic.connections++
      // Errors end the stream ('close' follows); unheard, they would crash the process.
      client.on("error", () => {})
      track(traffic, client)
      client.once("close", () => traffic.connections--)
      return true
    }

    const track = (traffic: Traffic, stream: Duplex) => {
      traffic.streams.add(stream)
      stream.once("close", () => traffic.streams.delete(stream))
    }

    const join = (traffic: Traffic, client: Duplex, target: Duplex) => {
      track(traffic, target)
      relay(client, target, {
        out: (n) => void (traffic.bytesOut += n),
        in: (n) => void (traffic.bytesIn += n),
        closed: () => {}
      })
    }

    /** Send a last reply and close, without waiting for the client to close its side. */
    const endWith = (socket: net.Socket, reply: Uint8Array) => socket.end(reply, () => socket.destroy())

    const origin = (socket: net.Socket) => ({ address: socket.remoteAddress ?? "127.0.0.1", port: socket.remotePort ?? 0 })

    /** A local connection: a stream from the host to the target, or the connection closed. */
    const forwardLocal = (alias: string, traffic: Traffic, socket: net.Socket, host: string, port: number) =>
      Effect.gen(function*() {
        const opened = yield* Effect.result(connections.forwardOut(alias, host, port, origin(socket)))
        if (opened._tag === "Failure") {
          failed(traffic, opened.failure.message)
          socket.destroy()
          return
        }
        if (socket.destroyed) return void opened.success.destroy()
        join(traffic, socket, opened.success)
      })

    /** Read a SOCKS5 greeting and CONNECT request; undefined when the client is refused or gone. */
    const socksHandshake = (traffic: Traffic, socket: net.Socket) =>
      Effect.callback<SocksTarget | undefined>((resume) => {
        let buffered = Buffer.alloc(0)
        let greeted = false
        const finish = (target: SocksTarget | undefined, why?: string) => {
          socket.pause()
          socket.removeListener("data", onData)
          socket.removeListener("close", onClose)
          socket.setTimeout(0)
          if (why !== undefined) failed(traffic, why)
          resume(Effect.succeed(target))
        }
        const refuse = (why: string, reply?: Uint8Array) => {
          if (reply === undefined) socket.destroy()
          else endWith(socket, reply)
          finish(undefined, `SOCKS: ${why}`)
        }
        const onData = (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk])
          if (!greeted) {
            const g = parseGreeting(buffered)
            if (g._tag === "Invalid") return refuse(g.reason)
            if (g._tag === "Incomplete") return buffered.length > MAX_HANDSHAKE_BYTES ? refuse("greeting too long") : undefined
            if (!g.value.noAuth) return refuse("the client offers no \"no authentication\" method", methodReply(METHOD_NONE_ACCEPTABLE))
            greeted = true
            socket.write(methodReply(METHOD_NO_AUTH))
            buffered = buffered.subarray(g.consumed)
          }
          const r = parseRequest(buffered)
          if (r._tag === "Invalid") return refuse(r.reason, r.reply === undefined ? undefined : requestReply(r.reply))
          if (r._tag === "Incomplete") return buffered.length > MAX_HANDSHAKE_BYTES ? refuse("request too long") : undefined
          // Bytes sent ahead of our reply belong to the target: give them back to the stream.
          const rest = buffered.subarray(r.consumed)
          finish(r.value)
          if (rest.length > 0) socket.unshift(rest)
        }
        const onClose = () => finish(undefined)
        socket.on("data", onData)
        socket.once("close", onClose)
        socket.setTimeout(SOCKS_HANDSHAKE_MS, () => refuse(`no request within ${SOCKS_HANDSHAKE_MS / 1000} s`))
        return Effect.sync(() => {
          socket.removeListener("data", onData)
          socket.removeListener("close", onClose)
          socket.setTimeout(0)
        })
      })

    const forwardSocks = (alias: string, traffic: Traffic, socket: net.Socket) =>
      Effect.gen(function*() {
        const target = yield* socksHandshake(traffic, socket)
        if (target === undefined) return
        const opened = yield* Effect.result(connections.forwardOut(alias, target.host, target.port, origin(socket)))
        if (opened._tag === "Failure") {
          const e = opened.failure
          failed(traffic, e.message)
          endWith(socket, requestReply(e._tag === "ForwardRefusedError" ? replyForRefusal(e.reason, e.message) : Reply.GENERAL_FAILURE))
          return
        }
        if (socket.destroyed) return void opened.success.destroy()
        socket.write(requestReply(Reply.SUCCEEDED))
        join(traffic, socket, opened.success)
      })

    /** A connection sshd accepted for a remote tunnel: joined to the target on our side. */
    const onRemoteConnection = (traffic: Traffic, host: string, port: number) => (stream: Duplex) => {
      if (!admit(traffic, stream)) return
      const socket = net.connect({ host, port })
      track(traffic, socket)
      const onError = (e: Error) => {
        failed(traffic, `cannot connect to ${host}:${port}: ${e.message}`)
        stream.destroy()
      }
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.removeListener("error", onError)
        if (stream.destroyed) return void socket.destroy()
        join(traffic, stream, socket)
      })
      stream.once("close", () => {
        if (socket.connecting) socket.destroy()
      })
    }

    const retryDelay = (attempt: number) =>
      Duration.millis(Math.min(MAX_RETRY_DELAY_MS, Math.max(250, config.limits.reconnectDelaySec * 1000 * 2 ** attempt)))

    /**
     * Keep a remote forward up: when the connection carrying it is gone, ask again on the next
     * one (the reconnect Connections makes, or one made here), on the same port, until the
     * tunnel closes.
     */
    const keepRemote = (
      alias: string,
      tunnelScope: Scope.Scope,
      traffic: Traffic,
      request: (port: number) => Effect.Effect<{ readonly closed: Effect.Effect<void> }, ConnectFailure | ForwardRefusedError, Scope.Scope>,
      port: number,
      first: { readonly closed: Effect.Effect<void>; readonly scope: Scope.Closeable }
    ) =>
      Effect.gen(function*() {
        let current = first
        for (;;) {
          yield* current.closed
          yield* Scope.close(current.scope, Exit.void)
          traffic.lastError = "the connection dropped; asking sshd to listen again"
          for (let attempt = 0; ; attempt++) {
            const scope = yield* Scope.fork(tunnelScope)
            const r = yield* Effect.result(Scope.provide(request(port), scope))
            if (r._tag === "Success") {
              current = { closed: r.success.closed, scope }
              traffic.lastError = undefined
              yield* Effect.logInfo(`remote tunnel on ${alias} port ${port} re-established`)
              break
            }
            yield* Scope.close(scope, Exit.void)
            traffic.lastError = `cannot listen again: ${r.failure.message}`
            yield* Effect.logWarning(`remote tunnel on ${alias} port ${port}: ${r.failure.message}`)
            yield* Effect.sleep(retryDelay(attempt))
          }
        }
      })

    /** Listen (here or on the host) in `scope`; returns the port listened on. */
    const start = (alias: string, request: TunnelRequest, bindAddress: string, traffic: Traffic, scope: Scope.Scope) =>
      Effect.gen(function*() {
        const run = yield* Scope.provide(FiberSet.makeRuntime<never, void, never>(), scope)
        if (request.kind === "remote") {
          const host = request.targetHost!
          const port = request.targetPort!
          const ask = (p: number) => connections.forwardIn(alias, bindAddress, p, onRemoteConnection(traffic, host, port))
          const firstScope = yield* Scope.fork(scope)
          const listener = yield* Scope.provide(ask(request.bindPort), firstScope)
          yield* Effect.forkIn(keepRemote(alias, scope, traffic, ask, listener.port, { closed: listener.closed, scope: firstScope }), scope)
          return listener.port
        }
        const onSocket = request.kind === "local"
          ? (socket: net.Socket) => {
            if (admit(traffic, socket)) run(forwardLocal(alias, traffic, socket, request.targetHost!, request.targetPort!))
          }
          : (socket: net.Socket) => {
            if (admit(traffic, socket)) run(forwardSocks(alias, traffic, socket))
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
            hint: "ssh_tunnel_close one you no longer need; the operator sets --max-tunnels-per-host"
          })
        }
        // Connected first, as ssh is: a host that cannot be reached fails the call, not each connection.
        yield* connections.connect(alias)
        const traffic: Traffic = { connections: 0, bytesIn: 0, bytesOut: 0, failed: 0, lastError: undefined, streams: new Set() }
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
