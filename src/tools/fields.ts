/**
 * Schema pieces shared by several tools. Optional parameters are plain optional
 * keys (the default is applied by the handler and stated in the description), so
 * the JSON Schema an agent reads stays simple.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** Names and paths: non-empty, bounded, and without NUL (which no host name, user or path can hold). */
export const Name = (maxLength: number) =>
  Schema.String.check(
    Schema.isMinLength(1),
    Schema.isMaxLength(maxLength),
    Schema.makeFilter((s: string) => (s.includes("\u0000") ? "must not contain NUL characters" : undefined))
  )

export const HostAlias = Name(255).annotate({
  description: "Host alias (see ssh_list_hosts). Omit to use the default host."
})

export const optionalHost = Schema.optionalKey(HostAlias)

export const Command = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1_000_000))

export const Env = Schema.Record(Schema.String, Schema.String.check(Schema.isMaxLength(1_000_000))).annotate({
  description: "Environment variables exported before the command runs (names: letters, digits, _)."
})

export const Cwd = Name(4096).annotate({
  description: "Working directory on the host; the command fails if it cannot cd there."
})

export const NullableInt = Schema.NullOr(Schema.Int)
export const NullableString = Schema.NullOr(Schema.String)
