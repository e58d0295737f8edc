import { Effect, Schema } from "effect"
import { HostSource } from "../../domain/hosts.js"
import { Connections } from "../../services/Connections.js"
import { authMethodOf, HostRegistry } from "../../services/HostRegistry.js"
import { Jobs } from "../../services/Jobs.js"
import { NullableString } from "./fields.js"
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
  source: HostSource
})

export const sshListHosts = Tool.make({
  name: "ssh_list_hosts",
  title: "List SSH hosts",
  description:
    "List the registered hosts: alias, address, user, auth method (never secrets), connected, running jobs, and " +
    "is_default (the host used when a tool's host is omitted).",
  annotations: { readOnlyHint: true, openWorldHint: false },
  // An empty Struct lets any object through: say so when the agent passes arguments.
  input: Schema.Struct({}).check(Schema.makeFilter((o: object) =>
    Object.keys(o).length === 0 ? undefined : `ssh_list_hosts takes no arguments; unexpected: ${Object.keys(o).join(", ")}`
  )),
  output: Schema.Struct({ hosts: Schema.Array(Host) }),
  handler: Effect.fnUntraced(function*() {
    const registry = yield* HostRegistry
    const connections = yield* Connections
    const jobs = yield* Jobs
    const defaultAlias = yield* registry.defaultAlias
    const hosts = yield* registry.list
    const running = yield* jobs.runningCountByHost
    return {
      hosts: yield* Effect.forEach(hosts, (h) =>
        Effect.map(connections.info(h.alias), (info) => ({
          alias: h.alias,
          address: h.address,
          port: h.port,
          user: h.user,
          auth_method: authMethodOf(h.auth),
          password_env: h.auth.passwordEnv ?? null,
          key_path: h.auth.keyPath ?? null,
          connected: info !== undefined,
          active_jobs: running.get(h.alias) ?? 0,
          is_default: h.alias === defaultAlias,
          source: h.source
        })))
    }
  })
})
