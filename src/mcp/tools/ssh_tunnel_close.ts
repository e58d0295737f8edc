import { Effect, Schema } from "effect"
import { Tunnels } from "../../services/Tunnels.js"
import { snakeKeys } from "./fields.js"
import { TunnelId } from "./tunnelFields.js"
import * as Tool from "./Tool.js"

export const sshTunnelClose = Tool.make({
  name: "ssh_tunnel_close",
  title: "Close a tunnel",
  description: "Stop listening and end the tunnel's connections.",
  annotations: { destructiveHint: true, openWorldHint: false },
  input: Schema.Struct({ tunnel_id: TunnelId }),
  output: snakeKeys(Schema.Struct({ tunnelId: Schema.String, closed: Schema.Boolean })),
  handler: Effect.fnUntraced(function*(input) {
    return { ...yield* (yield* Tunnels).close(input.tunnel_id), closed: true }
  })
})
