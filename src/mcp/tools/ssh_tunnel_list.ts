import { Effect, Schema } from "effect"
import { Tunnels } from "../../services/Tunnels.js"
import { int, NullableInt, NullableString, snakeKeys } from "./fields.js"
import { DEFAULT_REPLY_BYTES, pageWithin } from "./replyBudget.js"
import { tunnelFields, tunnelRecord } from "./tunnelFields.js"
import * as Tool from "./Tool.js"

const TunnelListed = snakeKeys(Schema.Struct({
  ...tunnelFields,
  connections: Schema.Int,
  bytesIn: Schema.Int,
  bytesOut: Schema.Int,
  failedConnections: Schema.Int,
  lastError: NullableString
}))

const encodeListed = Schema.encodeSync(TunnelListed)

export const sshTunnelList = Tool.make({
  name: "ssh_tunnel_list",
  title: "List tunnels",
  description: "List open tunnels: connections open now, bytes in (from targets) and out, failed connections and the last error.",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({
    cursor: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "A reply's next_cursor." }))
  }),
  output: Schema.Struct({ tunnels: Schema.Array(TunnelListed), next_cursor: NullableInt }),
  handler: Effect.fnUntraced(function*(input) {
    const listed = (yield* (yield* Tunnels).list).map((t) => ({ ...tunnelRecord(t), lastError: t.lastError ?? null }))
    const cursor = input.cursor ?? 0
    // Paged by the size of what is sent (snake_case keys).
    const { page, next_cursor } = pageWithin(listed.map((t) => encodeListed(t)), cursor, DEFAULT_REPLY_BYTES, {})
    return { tunnels: listed.slice(cursor, cursor + page.length), next_cursor }
  })
})
