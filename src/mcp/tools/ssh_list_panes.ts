import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { optionalHost } from "./fields.js"
import * as Tool from "./Tool.js"

export const sshListPanes = Tool.make({
  name: "ssh_list_panes",
  title: "List a host's tmux panes",
  description:
    "The tmux panes a person has open on a host (their default tmux server): target for ssh_follow_pane, the " +
    "program in it, its size, whether someone is attached.",
  annotations: { readOnlyHint: true, openWorldHint: true },
  input: Schema.Struct({ host: optionalHost }),
  output: Schema.Struct({
    panes: Schema.Array(Schema.Struct({ target: Schema.String, command: Schema.String, size: Schema.String, attached: Schema.Boolean }))
  }),
  handler: Effect.fnUntraced(function*(input) {
    // The panes as `Jobs.panes` gives them; what the output does not declare (the pane id) is not sent.
    return { panes: yield* (yield* Jobs).panes(input.host) }
  })
})
