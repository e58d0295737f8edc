/**
 * What a job's result can point a person to: the command that attaches to its tmux
 * session, and its live view page (`--view-port`). Each is present only when it exists.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import { attachCommand } from "../../ssh/tmux.js"
import { HostRegistry } from "../../services/HostRegistry.js"
import type { JobInfo } from "../../services/Jobs.js"
import { ViewServer } from "../viewServer.js"

/** The job's page on the live view server, when the operator runs one. */
export const viewUrl = (jobId: string): Effect.Effect<string | undefined> =>
  Effect.map(Effect.serviceOption(ViewServer), (view) => (view._tag === "Some" ? view.value.url(jobId) : undefined))

/** `ssh -t … tmux … attach -t mcp-<job_id>` for a job of ours in tmux (not for a followed pane). */
export const attachOf = (job: JobInfo): Effect.Effect<string | undefined, never, HostRegistry> =>
  job.tmux === null || job.tmux.session === undefined
    ? Effect.succeed(undefined)
    : Effect.gen(function*() {
      const entry = yield* Effect.option((yield* HostRegistry).resolve(job.host))
      return entry._tag === "Some" ? attachCommand(entry.value, job.tmux!) : undefined
    })

/** Optional fields as present-or-absent keys (an absent one costs the model nothing). */
export const present = <K extends string>(key: K, value: string | undefined): { readonly [P in K]?: string } =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: string }
