import { Effect, Schema } from "effect"
import { Termination } from "../../domain/jobs.js"
import { Hosts } from "../../services/Hosts.js"
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
    const r = yield* (yield* Hosts).disconnect(input.host)
    return {
      alias: r.alias,
      was_connected: r.wasConnected,
      terminated_jobs: r.terminatedJobs.map((t) => ({ job_id: t.jobId, how: t.termination }))
    }
  })
})
