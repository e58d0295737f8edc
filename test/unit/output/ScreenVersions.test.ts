import { describe, expect, it } from "vitest"
import { HISTORY, ScreenVersions } from "../../../src/output/ScreenVersions.js"

const at = (row: number, col: number) => ({ row, col })

describe("ScreenVersions", () => {
  it("makes a new version only when the rows or the cursor change", () => {
    const v = new ScreenVersions()
    expect(v.read(["a", "b"], at(0, 0)).version).toBe(1)
    expect(v.read(["a", "b"], at(0, 0)).version).toBe(1)
    expect(v.read(["a", "b"], at(1, 0)).version).toBe(2)
    expect(v.read(["a", "c"], at(1, 0)).version).toBe(3)
  })

  it("gives only the rows changed since a version it knows, else the whole screen", () => {
    const v = new ScreenVersions()
    v.read(["top", "mid", "bottom"], at(0, 0))
    v.read(["top", "MID", "bottom"], at(1, 3))
    expect(v.read(["top", "MID", "BOTTOM"], at(2, 6), 1)).toEqual({ version: 3, changed: { "1": "MID", "2": "BOTTOM" } })
    expect(v.read(["top", "MID", "BOTTOM"], at(2, 6), 3)).toEqual({ version: 3, changed: {} })
    expect(v.read(["top", "MID", "BOTTOM"], at(2, 6), 99).changed).toBeUndefined()
    expect(v.read(["top", "MID", "BOTTOM"], at(2, 6)).changed).toBeUndefined()
  })

  it(`forgets versions older than the last ${HISTORY}`, () => {
    const v = new ScreenVersions()
    for (let i = 0; i < HISTORY + 5; i++) v.read([String(i)], at(0, 0))
    expect(v.read(["x"], at(0, 0), 1).changed).toBeUndefined()
    expect(v.read(["x"], at(0, 0), HISTORY + 5).changed).toEqual({ "0": "x" })
  })
})
