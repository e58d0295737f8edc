/**
 * The tunnel record the tunnel tools return, and its conversion from `TunnelInfo`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TunnelKind, type TunnelInfo } from "../../domain/tunnels.js"
import { guardLength, nonEmpty, NullableInt, NullableString } from "./fields.js"

export const TunnelId = Schema.String.check(nonEmpty, guardLength(100))

export const tunnelFields = {
  tunnel_id: Schema.String,
  host: Schema.String,
  kind: TunnelKind,
  bind_address: Schema.String,
  bind_port: Schema.Int,
  target_host: NullableString,
  target_port: NullableInt
}

export const TunnelRecord = Schema.Struct(tunnelFields)

export const tunnelRecord = (t: TunnelInfo): typeof TunnelRecord.Type => ({
  tunnel_id: t.tunnelId,
  host: t.host,
  kind: t.kind,
  bind_address: t.bindAddress,
  bind_port: t.bindPort,
  target_host: t.targetHost ?? null,
  target_port: t.targetPort ?? null
})
