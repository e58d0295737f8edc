import { describe, expect, it } from "vitest"
import { MAX_LANES, uploadPlan } from "../../../src/transfers/lanes.js"

const MiB = 1024 * 1024

describe("uploadPlan", () => {
  it("adapts the lane count to the round trip: one on loopback, more on a longer link, at most MAX_LANES", () => {
    expect(uploadPlan(1024 * MiB, 1).lanes).toBe(1)
    expect(uploadPlan(1024 * MiB, 20).lanes).toBe(4)
    expect(uploadPlan(1024 * MiB, 50).lanes).toBe(MAX_LANES)
    expect(uploadPlan(1024 * MiB, 150).lanes).toBe(MAX_LANES)
  })

  it("gives a small file no more lanes than it has megabytes", () => {
    expect(uploadPlan(3 * MiB, 50).lanes).toBe(3)
    expect(uploadPlan(MiB + 1, 50).lanes).toBe(2)
  })

  it("cuts chunks of 1-4 MiB that cover the file", () => {
    for (const [size, rtt] of [[64 * MiB, 50], [1024 * MiB, 50], [3 * MiB + 5, 40], [MiB, 100]] as const) {
      const { lanes, chunk } = uploadPlan(size, rtt)
      expect(chunk % MiB).toBe(0)
      expect(chunk).toBeGreaterThanOrEqual(MiB)
      expect(chunk).toBeLessThanOrEqual(4 * MiB)
      expect(Math.ceil(size / chunk)).toBeGreaterThanOrEqual(Math.min(lanes, Math.ceil(size / MiB)))
    }
  })
})
