import { Effect, Schema } from "effect"
import { Tunnels } from "../../services/Tunnels.js"
import { NullableString, snakeKeys } from "./fields.js"
import { tunnelFields, tunnelRecord } from "./tunnelFields.js"
import * as Tool from "./Tool.js"

export const sshTunnelList = Tool.make({
  name: "ssh_tunnel_list",
  title: "List tunnels",
  description: "List open tunnels: connections open now, bytes in (from targets) and out, failed connections and the last error.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({}).check(Schema.makeFilter((o: object) =>
    Object.keys(o).length === 0 ? undefined : `ssh_tunnel_list takes no arguments; unexpected: ${Object.keys(o).join(", ")}`
  )),
  output: Schema.Struct({
    tunnels: Schema.Array(snakeKeys(Schema.Struct({
      ...tunnelFields,
      connections: Schema.Int,
      bytesIn: Schema.Int,
      bytesOut: Schema.Int,
      failedConnections: Schema.Int,
      lastError: NullableString
    })))
  }),
  handler: Effect.fnUntraced(function*() {
    const tunnels = yield* (yield* Tunnels).list
    return {
      tunnels: tunnels.map((t) => ({ ...tunnelRecord(t), lastError: t.lastError ?? null }))
    }
  })
})
