import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { Name, optionalHost, Text } from "./fields.js"
import { JobStarted, jobStarted } from "./jobFields.js"
import { present, viewUrl } from "./jobLinks.js"
import * as Tool from "./Tool.js"

export const sshFollowPane = Tool.make({
  name: "ssh_follow_pane",
  title: "Follow a person's tmux pane",
  description:
    "Follow an existing tmux pane (see ssh_list_panes) as a job: ssh_tail reads what it prints from now on, ssh_screen " +
    "shows it. Read-only: nothing is typed unless you call ssh_send_stdin. ssh_remove_job stops following; the pane stays.",
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  input: Schema.Struct({
    target: Name(200, "session:window.pane, or a pane id (%3)."),
    host: optionalHost,
    label: Schema.optionalKey(Text(200))
  }),
  output: JobStarted,
  handler: Effect.fnUntraced(function*(input) {
    const job = yield* (yield* Jobs).followPane(input)
    return { ...jobStarted(job), ...present("viewUrl", yield* viewUrl(job.jobId)) }
  })
})
