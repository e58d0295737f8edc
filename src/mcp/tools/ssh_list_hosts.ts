import { Effect, Schema } from "effect"
import { HostSource } from "../../domain/hosts.js"
import { Hosts } from "../../services/Hosts.js"
import { Policy } from "../../services/Policy.js"
import { int, NullableInt, NullableString } from "./fields.js"
import { DEFAULT_REPLY_BYTES, pageWithin } from "./replyBudget.js"
import * as Tool from "./Tool.js"

const Host = Schema.Struct({
  alias: Schema.String,
  address: Schema.String,
  port: Schema.Int,
  user: Schema.String,
  auth_method: Schema.String,
  password_env: NullableString,
  key_path: NullableString,
  connected: Schema.Boolean,
  active_jobs: Schema.Int,
  is_default: Schema.Boolean,
  source: HostSource,
  groups: Schema.Array(Schema.String),
  policy: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown))
})

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
    const all = hosts.map((h, i) => ({
        alias: h.alias,
        address: h.address,
        port: h.port,
        user: h.user,
        auth_method: h.authMethod,
        password_env: h.passwordEnv ?? null,
        key_path: h.keyPath ?? null,
        connected: h.connected,
        active_jobs: h.activeJobs,
        is_default: h.isDefault,
        source: h.source,
        groups: h.groups,
        policy: policies[i] ?? null
      }))
    const { page, next_cursor } = pageWithin(all, input.cursor ?? 0, DEFAULT_REPLY_BYTES, {})
    return { hosts: page, next_cursor }
  })
})
