/**
 * What a tunnel is, as services, tools and library users see it: its kind (`ssh -L`,
 * `ssh -R`, `ssh -D`), where it listens, where it leads, and its traffic.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** local: we listen, the host connects to the target (`ssh -L`); remote: the host listens, we connect (`ssh -R`); dynamic: a SOCKS5 proxy here (`ssh -D`). */
export const TunnelKind = Schema.Literals(["local", "remote", "dynamic"])
export type TunnelKind = typeof TunnelKind.Type

export interface TunnelRequest {
  /** A registered alias; undefined: the default host. */
  readonly host?: string | undefined
  readonly kind: TunnelKind
  /** Where to listen: on this machine (local, dynamic) or on the host (remote). Default 127.0.0.1. */
  readonly bindAddress?: string | undefined
  /** 0 lets the system (or sshd) pick a free port. */
  readonly bindPort: number
  /** Required for local and remote, refused for dynamic (the SOCKS client names each target). */
  readonly targetHost?: string | undefined
  readonly targetPort?: number | undefined
}

/** An open tunnel. */
export interface TunnelInfo {
  readonly tunnelId: string
  readonly host: string
  readonly kind: TunnelKind
  readonly bindAddress: string
  /** The port listened on (the picked one when 0 was asked). */
  readonly bindPort: number
  readonly targetHost: string | undefined
  readonly targetPort: number | undefined
}

/** An open tunnel and its traffic. */
export interface TunnelStatus extends TunnelInfo {
  /** Connections through it open now. */
  readonly connections: number
  /** Bytes from the targets back to the clients. */
  readonly bytesIn: number
  /** Bytes from the clients to the targets. */
  readonly bytesOut: number
  /** Connections that could not be carried (target unreachable, refused, over the cap, bad SOCKS request). */
  readonly failedConnections: number
  /** Why the last one failed, or why a remote forward is not up now. */
  readonly lastError: string | undefined
}
