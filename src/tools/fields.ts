/**
 * Schema pieces shared by several tools. Optional parameters are plain optional
 * keys (the default is applied by the handler and stated in the description), so
 * the JSON Schema an agent reads stays simple.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

export const HostAlias = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)).annotate({
  description: "Host alias (see ssh_list_hosts). Omit to use the default host."
})

export const optionalHost = Schema.optionalKey(HostAlias)

export const Command = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1_000_000))

export const Env = Schema.Record(Schema.String, Schema.String.check(Schema.isMaxLength(1_000_000))).annotate({
  description: "Environment variables exported before the command runs (names: letters, digits, _)."
})

export const Cwd = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4096)).annotate({
  description: "Working directory on the host; the command fails if it cannot cd there."
})

export const NullableInt = Schema.NullOr(Schema.Int)
export const NullableString = Schema.NullOr(Schema.String)
