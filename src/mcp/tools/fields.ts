/**
 * Schema pieces shared by several tools. Optional parameters are plain optional
 * keys (the default is applied by the handler and stated in the description), so
 * the JSON Schema an agent reads stays simple. Descriptions are for a model reading
 * `tools/list`: short, only what the name and type do not say (booleans default to false).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Alias } from "../../domain/hosts.js"

export const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/**
 * Length limits that guard against abuse or nonsense rather than tell the caller anything
 * (a name is not empty, a command is not a gigabyte): enforced, but left out of the
 * published JSON Schema, every byte of which a model reads.
 */
export const guardLength = (maxLength: number) => Schema.isMaxLength(maxLength, { toJsonSchema: () => ({}) })
export const nonEmpty = Schema.isMinLength(1, { toJsonSchema: () => ({}) })

/** A string bounded by a guard; `description` goes first (annotating after a filter check loses it). */
export const Text = (maxLength: number, description?: string) =>
  (description === undefined ? Schema.String : Schema.String.annotate({ description })).check(guardLength(maxLength))

/** Names and paths: non-empty, bounded, and without NUL (which no host name, user or path can hold). */
export const Name = (maxLength: number, description?: string) =>
  (description === undefined ? Schema.String : Schema.String.annotate({ description })).check(
    nonEmpty,
    guardLength(maxLength),
    Schema.makeFilter((s: string) => (s.includes("\u0000") ? "must not contain NUL characters" : undefined))
  )

/** A registered alias (ssh_connect's description says what that is; omitted, the default host). */
export const HostAlias = Alias

export const optionalHost = Schema.optionalKey(HostAlias)

export const Command = Schema.String.annotate({ description: "Shell command (run by the login shell)." })
  .check(nonEmpty, guardLength(1_000_000))

/**
 * Any string key here: a `Record` keyed by `EnvName` would drop a bad key silently when it
 * decodes, so the names are checked by the services (`validateEnv`), refused naming `env`.
 */
export const Env = Schema.Record(Schema.String, Text(1_000_000))

export const Cwd = Name(4096)

export const Sudo = Schema.Boolean.annotate({ description: "Run as root via sudo (password from server config)." })

export const IdleTimeoutMs = int(1, 86_400_000).annotate({ description: "Stop it after this long without output." })

/** `exitStatus` → `exit_status`, at the type level. */
export type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S

/** `exitStatus` → `exit_status`. */
export const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * A struct of the domain's camelCase fields whose encoded form (what a tool publishes, takes
 * and returns) has them in snake_case. As an output, a handler returns the service's result
 * as it is, and Schema renames (and drops what the struct does not declare); as an input, the
 * agent's snake_case arguments decode to the service's camelCase options, which the handler
 * passes on. The published JSON Schema, and the field a refusal names, are the snake_case ones.
 */
export const snakeKeys = <F extends Schema.Struct.Fields>(struct: Schema.Struct<F>) =>
  struct.pipe(Schema.encodeKeys(
    Object.fromEntries(Object.keys(struct.fields).map((k) => [k, snake(k)])) as { readonly [K in keyof F]: K extends string ? SnakeCase<K> : K }
  ))

export const NullableInt = Schema.NullOr(Schema.Int)
export const NullableString = Schema.NullOr(Schema.String)
