/**
 * What a reaped job leaves behind: how it ended and how much it printed, for a bounded
 * time and number, so an agent that comes back after `reap_finished_after_sec` learns
 * the exit status instead of only "no such job". Plain data, no Effect: the store
 * calls it with the time.
 *
 * @since 0.1.0
 */
import type { EndReason, JobStatus } from "../domain/jobs.js"

export interface Tombstone {
  readonly jobId: string
  readonly host: string
  readonly label: string | null
  readonly status: JobStatus
  readonly exitStatus: number | null
  readonly signal: string | null
  readonly endReason: EndReason | null
  readonly endedAt: Date
  readonly reapedAt: Date
  /** Lines the job printed (both streams). */
  readonly lines: number
}

/** How many tombstones are kept, and for how long after the reaping. */
export const TOMBSTONE_LIMIT = 1000
export const TOMBSTONE_TTL_MS = 24 * 3600_000

export class Tombstones {
  /** Oldest first (insertion order of a Map). */
  private readonly byId = new Map<string, Tombstone>()

  constructor(private readonly limit = TOMBSTONE_LIMIT, private readonly ttlMs = TOMBSTONE_TTL_MS) {}

  add(tombstone: Tombstone): void {
    this.byId.delete(tombstone.jobId)
    this.byId.set(tombstone.jobId, tombstone)
    while (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value!)
  }

  /** The tombstone of `jobId`, unless it has expired by `now`. */
  get(jobId: string, now: number): Tombstone | undefined {
    this.prune(now)
    return this.byId.get(jobId)
  }

  /** A job of that id is listed again (a persistent job found on its host): its tombstone goes. */
  delete(jobId: string): void {
    this.byId.delete(jobId)
  }

  /** The tombstones still kept at `now`, newest first. */
  list(now: number): ReadonlyArray<Tombstone> {
    this.prune(now)
    return [...this.byId.values()].reverse()
  }

  get size(): number {
    return this.byId.size
  }

  private prune(now: number): void {
    for (const [id, t] of this.byId) {
      if (now - t.reapedAt.getTime() < this.ttlMs) return
      this.byId.delete(id)
    }
  }
}

/** How it ended, in a few words: `exited 3`, `killed (SIGTERM), signal`, `lost, connection_lost`. */
const endedAs = (t: Tombstone): string => {
  const how = t.status === "exited"
    ? `exited ${t.exitStatus ?? "?"}`
    : t.signal !== null
    ? `${t.status} (SIG${t.signal})`
    : t.status
  return t.endReason !== null ? `${how}, ${t.endReason}` : how
}

/** One line for an agent: how the job ended, when, and that its output is gone. */
export const describeTombstone = (t: Tombstone): string =>
  `job '${t.jobId}' on ${t.host} ${endedAs(t)} at ${t.endedAt.toISOString()} after ${t.lines} lines, ` +
  `and was reaped at ${t.reapedAt.toISOString()}: its output is no longer held`

/** The short form `ssh_list_jobs` lists: `job-1a2b on web1: exited 3 at <time>, 12 lines`. */
export const tombstoneLine = (t: Tombstone): string =>
  `${t.jobId} on ${t.host}: ${endedAs(t)} at ${t.endedAt.toISOString()}, ${t.lines} lines`
