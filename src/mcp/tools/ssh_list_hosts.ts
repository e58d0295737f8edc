import { Effect, Schema } from "effect"
import { HostSource } from "../../domain/hosts.js"
import { Hosts } from "../../services/Hosts.js"
import { Policy } from "../../services/Policy.js"
import { int, NullableInt, NullableString, snakeKeys } from "./fields.js"
import { DEFAULT_REPLY_BYTES, pageWithin } from "./replyBudget.js"
import * as Tool from "./Tool.js"

/** A `HostStatus` as the agent reads it (snake_case), with its policy. */
const Host = snakeKeys(Schema.Struct({
  alias: Schema.String,
  address: Schema.String,
  port: Schema.Int,
  user: Schema.String,
  authMethod: Schema.String,
  passwordEnv: NullableString,
  keyPath: NullableString,
  connected: Schema.Boolean,
  activeJobs: Schema.Int,
  isDefault: Schema.Boolean,
  source: HostSource,
  groups: Schema.Array(Schema.String),
  policy: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown))
}))

const encodeHost = Schema.encodeSync(Host)

export const sshListHosts = Tool.make({
  name: "ssh_list_hosts",
  title: "List SSH hosts",
  description:
    "List the registered hosts: address, user, auth method (never secrets), connected, running jobs, " +
    "is_default (used when no host is named), policy (operator's rules or null).",
  annotations: { readOnlyHint: true, openWorldHint: false },
  input: Schema.Struct({ cursor: Schema.optionalKey(int(0, Number.MAX_SAFE_INTEGER).annotate({ description: "A reply's next_cursor." })) }),
  output: Schema.Struct({ hosts: Schema.Array(Host), next_cursor: NullableInt }),
  handler: Effect.fnUntraced(function*(input) {
    const hosts = yield* (yield* Hosts).list
    const policy = yield* Policy
    const policies = yield* Effect.forEach(hosts, (h) => policy.describe(h.alias))
    const all = hosts.map((h, i) => ({ ...h, passwordEnv: h.passwordEnv ?? null, keyPath: h.keyPath ?? null, policy: policies[i] ?? null }))
    // Paged by the size of what is sent (snake_case keys).
    const cursor = input.cursor ?? 0
    const { page, next_cursor } = pageWithin(all.map((h) => encodeHost(h)), cursor, DEFAULT_REPLY_BYTES, {})
    return { hosts: all.slice(cursor, cursor + page.length), next_cursor }
  })
})
