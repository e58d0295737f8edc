import { Effect, Schema } from "effect"
import { Termination } from "../../domain/jobs.js"
import { Connections } from "../../services/Connections.js"
import { HostRegistry } from "../../services/HostRegistry.js"
import { Jobs } from "../../services/Jobs.js"
import { optionalHost } from "./fields.js"
import * as Tool from "./Tool.js"

export const sshDisconnect = Tool.make({
  name: "ssh_disconnect",
  title: "Disconnect a host",
  description:
    "Close a host's connection and forget it. Its running jobs are stopped first (TERM, 5 s, KILL) and listed.",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({ host: optionalHost }),
  output: Schema.Struct({
    alias: Schema.String,
    was_connected: Schema.Boolean,
    terminated_jobs: Schema.Array(Schema.Struct({
      job_id: Schema.String,
      how: Termination
    }))
  }),
  handler: Effect.fnUntraced(function*(input) {
    const registry = yield* HostRegistry
    const connections = yield* Connections
    const jobs = yield* Jobs
    const host = yield* registry.resolve(input.host)
    const wasConnected = (yield* connections.info(host.alias)) !== undefined
    const terminated = yield* jobs.terminateHost(host.alias)
    yield* connections.disconnect(host.alias)
    yield* registry.remove(host.alias)
    return {
      alias: host.alias,
      was_connected: wasConnected,
      terminated_jobs: terminated.map((t) => ({ job_id: t.jobId, how: t.termination }))
    }
  })
})
