/**
 * A tunnel's bookkeeping: its traffic counters and open streams, the per-tunnel connection
 * cap, and joining an accepted stream with the one opened for it.
 *
 * @since 0.1.0
 */
import type * as net from "node:net"
import type { Duplex } from "node:stream"
import { relay } from "./relay.js"

/** A tunnel's traffic and its open streams (the ones it accepted and the ones it opened). */
export interface Traffic {
  connections: number
  bytesIn: number
  bytesOut: number
  failed: number
  lastError: string | undefined
  readonly streams: Set<Duplex>
}

export const newTraffic = (): Traffic => ({ connections: 0, bytesIn: 0, bytesOut: 0, failed: 0, lastError: undefined, streams: new Set() })

export const failed = (traffic: Traffic, why: string) => {
  traffic.failed++
  traffic.lastError = why
}

export const track = (traffic: Traffic, stream: Duplex) => {
  traffic.streams.add(stream)
  stream.once("close", () => traffic.streams.delete(stream))
}

/** Count and track an accepted stream; false (and it is closed) past the cap. */
export const admit = (traffic: Traffic, client: Duplex, maxConnections: number): boolean => {
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

/** Relay `client` and `target` both ways; `closed` once both are closed. */
export const join = (traffic: Traffic, client: Duplex, target: Duplex, closed: () => void = () => {}) => {
  track(traffic, target)
  relay(client, target, {
    out: (n) => void (traffic.bytesOut += n),
    in: (n) => void (traffic.bytesIn += n),
    closed
  })
}

/** Send a last reply and close, without waiting for the client to close its side. */
export const endWith = (socket: net.Socket, reply: Uint8Array) => socket.end(reply, () => socket.destroy())

/** Where an accepted connection comes from, as sshd is told. */
export const origin = (socket: net.Socket) => ({ address: socket.remoteAddress ?? "127.0.0.1", port: socket.remotePort ?? 0 })
