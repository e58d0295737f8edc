import { Effect, Schema } from "effect"
import { Termination } from "../../domain/jobs.js"
import { Hosts } from "../../services/Hosts.js"
import { optionalHost, snakeKeys } from "./fields.js"
import * as Tool from "./Tool.js"

export const sshDisconnect = Tool.make({
  name: "ssh_disconnect",
  title: "Disconnect a host",
  description:
    "Close a host's connection and forget it. Its running jobs are stopped first (TERM, 5 s, KILL) and listed.",
  annotations: { destructiveHint: true, openWorldHint: true },
  input: Schema.Struct({ host: optionalHost }),
  output: snakeKeys(Schema.Struct({
    alias: Schema.String,
    wasConnected: Schema.Boolean,
    terminatedJobs: Schema.Array(Schema.Struct({
      jobId: Schema.String,
      termination: Termination
    }).pipe(Schema.encodeKeys({ jobId: "job_id", termination: "how" })))
  })),
  handler: Effect.fnUntraced(function*(input) {
    return yield* (yield* Hosts).disconnect(input.host)
  })
})
