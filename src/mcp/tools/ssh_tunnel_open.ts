import { Effect, Schema } from "effect"
import { Hostname } from "../../domain/hosts.js"
import { TunnelKind } from "../../domain/tunnels.js"
import { Tunnels } from "../../services/Tunnels.js"
import { int, Name, optionalHost } from "./fields.js"
import { TunnelRecord, tunnelRecord } from "./tunnelFields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

export const sshTunnelOpen = Tool.make({
  name: "ssh_tunnel_open",
  title: "Open a tunnel",
  description:
    "Forward ports through a host. local (ssh -L): listen here, connect to target from the host. remote (ssh -R): the host listens, connect to target from here. dynamic (ssh -D): a SOCKS5 proxy here, names resolved on the host. Survives reconnects; closes with the host.",
  annotations: { openWorldHint: true },
  input: Schema.Struct({
    host: optionalHost,
    kind: TunnelKind,
    bind_address: Schema.optionalKey(Name(255, "Default 127.0.0.1 (here; on the host for remote).")),
    bind_port: int(0, 65535).annotate({ description: "0 picks a free port." }),
    target_host: Schema.optionalKey(Hostname.annotate({ description: "local/remote only." })),
    target_port: Schema.optionalKey(int(1, 65535))
  }),
  output: TunnelRecord,
  handler: Effect.fnUntraced(function*(input, ctx) {
    yield* enforcePolicy(ctx, input.host, { _tag: "Tunnel" })
    const t = yield* (yield* Tunnels).open({
      host: input.host,
      kind: input.kind,
      bindAddress: input.bind_address,
      bindPort: input.bind_port,
      targetHost: input.target_host,
      targetPort: input.target_port
    })
    return tunnelRecord(t)
  })
})
