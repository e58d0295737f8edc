/**
 * The tunnel record the tunnel tools return, and its conversion from `TunnelInfo`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TunnelKind, type TunnelInfo } from "../../domain/tunnels.js"
import { guardLength, nonEmpty, NullableInt, NullableString, snakeKeys } from "./fields.js"

export const TunnelId = Schema.String.check(nonEmpty, guardLength(100))

/** A `TunnelInfo`'s fields (the agent reads them in snake_case: `snakeKeys`). */
export const tunnelFields = {
  tunnelId: Schema.String,
  host: Schema.String,
  kind: TunnelKind,
  bindAddress: Schema.String,
  bindPort: Schema.Int,
  targetHost: NullableString,
  targetPort: NullableInt
}

export const TunnelRecord = snakeKeys(Schema.Struct(tunnelFields))

/** A tunnel as the record has it: no target is null. */
export const tunnelRecord = <T extends TunnelInfo>(t: T) => ({ ...t, targetHost: t.targetHost ?? null, targetPort: t.targetPort ?? null })
