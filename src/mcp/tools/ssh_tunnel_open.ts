import { Effect, Schema } from "effect"
import { Hostname } from "../../domain/hosts.js"
import { TunnelKind } from "../../domain/tunnels.js"
import { Tunnels } from "../../services/Tunnels.js"
import { int, Name, optionalHost, snakeKeys } from "./fields.js"
import { TunnelRecord, tunnelRecord } from "./tunnelFields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

export const sshTunnelOpen = Tool.make({
  name: "ssh_tunnel_open",
  title: "Open a tunnel",
  description:
    "Forward ports through a host. local (ssh -L): listen here, connect to target from the host. remote (ssh -R): the host listens, connect to target from here. dynamic (ssh -D): a SOCKS5 proxy here, names resolved on the host. Survives reconnects; closes with the host.",
  annotations: { openWorldHint: true },
  // `Tunnels.open`'s options, as the agent sends them (snake_case).
  input: snakeKeys(Schema.Struct({
    host: optionalHost,
    kind: TunnelKind,
    bindAddress: Schema.optionalKey(Name(255, "Default 127.0.0.1 (here; on the host for remote).")),
    bindPort: int(0, 65535).annotate({ description: "0 picks a free port." }),
    targetHost: Schema.optionalKey(Hostname.annotate({ description: "local/remote only." })),
    targetPort: Schema.optionalKey(int(1, 65535))
  })),
  output: TunnelRecord,
  handler: Effect.fnUntraced(function*(input, ctx) {
    yield* enforcePolicy(ctx, input.host, { _tag: "Tunnel" })
    return tunnelRecord(yield* (yield* Tunnels).open(input))
  })
})
