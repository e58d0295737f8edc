import { Effect, Schema } from "effect"
import { Jobs } from "../../services/Jobs.js"
import { KEY_NAMES_HELP } from "../../output/keys.js"
import { JobId, JobState } from "./jobFields.js"
import { Name, Text } from "./fields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

export const sshSendStdin = Tool.make({
  name: "ssh_send_stdin",
  title: "Write to a job's stdin",
  description:
    "Write to a running job's stdin, e.g. to answer its prompt; include the newline (\"y\\n\") for a line. " +
    "keys presses named keys after data (terminal programs: see ssh_screen). Returns the job's state after.",
  annotations: { destructiveHint: false, openWorldHint: true },
  input: Schema.Struct({
    job_id: JobId,
    data: Schema.optionalKey(Text(10_000_000)),
    keys: Schema.optionalKey(
      Schema.Array(Name(20)).annotate({ description: KEY_NAMES_HELP }).check(
        Schema.isMinLength(1, { toJsonSchema: () => ({}) }),
        Schema.isMaxLength(1000, { toJsonSchema: () => ({}) })
      )
    ),
    eof: Schema.optionalKey(Schema.Boolean.annotate({ description: "Close stdin afterwards." })),
    secret: Schema.optionalKey(Schema.Boolean.annotate({ description: "A password: kept out of logs, its echo masked." }))
  }),
  output: Schema.Struct({ bytes_written: Schema.Int, eof: Schema.Boolean, job: JobState }),
  handler: Effect.fnUntraced(function*(input, ctx) {
    const jobs = yield* Jobs
    const target = yield* jobs.get(input.job_id)
    const data = input.data ?? ""
    const keys = input.keys ?? []
    // A person's pane is typed into as a shell is; any terminal takes keys, which no rule can judge.
    const pane = target.tmux !== null && target.tmux.session === undefined
    if (data !== "" || keys.length === 0) {
      yield* enforcePolicy(ctx, target.host, {
        _tag: "Stdin",
        jobCommand: target.command,
        data,
        secret: input.secret,
        terminal: target.pty,
        shell: pane
      })
    }
    if (keys.length > 0) yield* enforcePolicy(ctx, target.host, { _tag: "Keys", jobCommand: target.command, keys })
    const job = yield* jobs.sendStdin(input.job_id, data, {
      eof: input.eof === true,
      secret: input.secret === true,
      keys
    })
    return { bytes_written: Buffer.byteLength(data), eof: input.eof === true, job }
  })
})
