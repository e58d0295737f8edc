/**
 * A job's output and changes as Streams, for readers that follow a job to its end
 * (MCP resource subscriptions, library users). They sleep on the job's change signal.
 *
 * @since 0.1.0
 */
import { Effect, Option, Stream } from "effect"
import type { StreamName } from "../domain/jobs.js"
import type { Line } from "../output/RingBuffer.js"
import type { Job } from "./Job.js"

/** The job's lines from `since` until it ends. */
export const jobLines = (job: Job, options?: { readonly since?: number; readonly stream?: "both" | StreamName }): Stream.Stream<Line> =>
  Stream.paginate(options?.since ?? 0, (since: number) =>
    Effect.gen(function*() {
      for (;;) {
        const seen = job.changes.version
        const read = job.ring.read({ since, stream: options?.stream ?? "both", maxLines: 1024, maxBytes: 1 << 20 })
        if (read.lines.length > 0) return [read.lines, Option.some(read.nextLineNo)] as const
        if (!job.running) return [[], Option.none()] as const
        yield* job.changes.changedSince(seen)
      }
    }))

/** The job's change version, whenever it gets output or changes state; ends after it has ended. */
export const jobChanges = (job: Job): Stream.Stream<number> =>
  Stream.paginate(0, (seen: number) =>
    job.running
      ? Effect.map(job.changes.changedSince(seen), (v) => [[v], Option.some(v)] as const)
      : Effect.succeed([[job.changes.version], Option.none()] as const))
