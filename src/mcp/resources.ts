/**
 * Each job's output as an MCP resource, `ssh-job://<job_id>/output`: listed, readable
 * (the lines the ring buffer holds, numbered), and subscribable — a subscriber gets
 * `notifications/resources/updated` when new lines arrive, at most every 250 ms.
 * Each server (one per HTTP session, or the stdio one) keeps its watchers in a `FiberMap`
 * by URI (one per subscribed resource), in a scope of its own closed when the server
 * closes: a closed session leaves no watcher behind.
 *
 * @since 0.1.0
 */
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/server"
import { Context, Effect, Exit, FiberMap, Scope, Stream } from "effect"
import { Jobs } from "../services/Jobs.js"

const PREFIX = "ssh-job://"
const uriOf = (jobId: string) => `${PREFIX}${jobId}/output`
const jobIdOf = (uri: string) => /^ssh-job:\/\/([^/]+)\/output$/.exec(uri)?.[1]

/** Register the job output resources and the subscribe / unsubscribe handlers on `server`. */
export const registerJobResources = (server: McpServer, context: Context.Context<Jobs>): void => {
  const run = Effect.runPromiseWith(context)
  const runSync = Effect.runSyncWith(context)
  const jobs = Context.get(context, Jobs)
  const scope = Scope.makeUnsafe()
  // Closed with the scope: every watcher interrupted, and any run after that too.
  const watchers = runSync(Scope.provide(FiberMap.make<string>(), scope))
  const onclose = server.server.onclose
  server.server.onclose = () => {
    void run(Scope.close(scope, Exit.void))
    onclose?.()
  }

  server.registerResource(
    "job-output",
    new ResourceTemplate(`${PREFIX}{job_id}/output`, {
      list: async () => {
        const list = await run(jobs.list())
        return {
          resources: list.map((j) => ({
            uri: uriOf(j.jobId),
            name: j.label ?? j.jobId,
            title: `${j.host}: ${j.command.slice(0, 80)}`,
            description: `${j.status}, ${j.lines.total} lines`,
            mimeType: "text/plain"
          }))
        }
      }
    }),
    {
      title: "Job output",
      description: "A job's output lines still held in its buffer, one per line as `<n> <stream>: <text>`. " +
        "Subscribe to be told when new lines arrive.",
      mimeType: "text/plain"
    },
    async (uri, variables) => {
      const jobId = String(variables.job_id)
      const tail = await run(jobs.tail({ jobId, since: 0, waitMs: 0, maxLines: 10_000, maxBytes: 4 * 1024 * 1024, stream: "both" }))
      const text = tail.lines.map((l) => `${l.n} ${l.stream}: ${l.text}\n`).join("")
      return { contents: [{ uri: uri.href, mimeType: "text/plain", text }] }
    }
  )

  server.server.setRequestHandler("resources/subscribe", async (request) => {
    const uri = request.params.uri
    const jobId = jobIdOf(uri)
    if (jobId === undefined) return {}
    const notify = Effect.promise(() => server.server.sendResourceUpdated({ uri }).catch(() => undefined))
    // Pull-based: while we sleep after a notification, changes coalesce into the next one.
    // One watcher per URI: a second subscribe keeps the first; it leaves the map when it ends.
    runSync(FiberMap.run(watchers, uri, { onlyIfMissing: true })(
      Effect.ignore(Stream.runForEach(jobs.changes(jobId), () => Effect.andThen(notify, Effect.sleep("250 millis"))))
    ))
    return {}
  })

  server.server.setRequestHandler("resources/unsubscribe", async (request) => {
    await run(FiberMap.remove(watchers, request.params.uri))
    return {}
  })
}
