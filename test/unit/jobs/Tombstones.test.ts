import { describe, expect, it } from "vitest"
import { describeTombstone, type Tombstone, tombstoneLine, Tombstones } from "../../../src/jobs/Tombstones.js"

const stone = (jobId: string, reapedAt: number, over: Partial<Tombstone> = {}): Tombstone => ({
  jobId,
  host: "h",
  label: null,
  status: "exited",
  exitStatus: 0,
  signal: null,
  endReason: null,
  endedAt: new Date(reapedAt - 600_000),
  reapedAt: new Date(reapedAt),
  lines: 3,
  ...over
})

describe("Tombstones", () => {
  it("keeps at most `limit`, dropping the oldest", () => {
    const t = new Tombstones(3, 1000)
    for (let i = 0; i < 5; i++) t.add(stone(`job-${i}`, 100 + i))
    expect(t.size).toBe(3)
    expect(t.list(100).map((s) => s.jobId)).toEqual(["job-4", "job-3", "job-2"])
    expect(t.get("job-0", 100)).toBeUndefined()
    expect(t.get("job-2", 100)?.exitStatus).toBe(0)
  })

  it("forgets each one ttl after it was reaped", () => {
    const t = new Tombstones(10, 1000)
    t.add(stone("job-a", 0))
    t.add(stone("job-b", 500))
    expect(t.list(999).length).toBe(2)
    expect(t.get("job-a", 1000)).toBeUndefined()
    expect(t.list(1000).map((s) => s.jobId)).toEqual(["job-b"])
    expect(t.list(1500)).toEqual([])
  })

  it("drops a tombstone when its job is listed again", () => {
    const t = new Tombstones(10, 1000)
    t.add(stone("job-a", 0))
    t.delete("job-a")
    expect(t.get("job-a", 1)).toBeUndefined()
  })

  it("says how the job ended, when, and that its output is gone", () => {
    expect(describeTombstone(stone("job-a", Date.UTC(2026, 0, 1)))).toBe(
      "job 'job-a' on h exited 0 at 2025-12-31T23:50:00.000Z after 3 lines, and was reaped at 2026-01-01T00:00:00.000Z: its output is no longer held"
    )
    expect(describeTombstone(stone("job-b", 0, { status: "killed", exitStatus: null, signal: "TERM", endReason: "signal" })))
      .toMatch(/^job 'job-b' on h killed \(SIGTERM\), signal at /)
  })

  it("has a one-line form for listings", () => {
    expect(tombstoneLine(stone("job-a", Date.UTC(2026, 0, 1)))).toBe("job-a on h: exited 0 at 2025-12-31T23:50:00.000Z, 3 lines")
    expect(tombstoneLine(stone("job-c", Date.UTC(2026, 0, 1), { status: "lost", exitStatus: null, endReason: "connection_lost" })))
      .toBe("job-c on h: lost, connection_lost at 2025-12-31T23:50:00.000Z, 3 lines")
  })
})
