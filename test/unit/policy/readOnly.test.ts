/**
 * `read_only`'s parser-based allow list: every bypass attempt of the corpus is refused,
 * naming what was not understood, and every ordinary read-only command still passes.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { type BashParser, loadBashParser } from "../../../src/domain/bashParser.js"
import { readOnlyViolation } from "../../../src/domain/readOnly.js"
import { BYPASSES, ORDINARY } from "./readOnlyCorpus.js"

let parser: BashParser
beforeAll(async () => {
  parser = await loadBashParser()
})

describe("read_only: the bypass corpus", () => {
  it("holds at least 200 attempts, each once", () => {
    expect(BYPASSES.length).toBeGreaterThanOrEqual(200)
    expect(new Set(BYPASSES.map(([c]) => c)).size).toBe(BYPASSES.length)
  })
  it.each(BYPASSES)("refuses %j, naming %j", (command, names) => {
    const why = readOnlyViolation(parser, command)
    expect(why, command).toBeDefined()
    expect(why).toContain(names)
  })
})

describe("read_only: the ordinary corpus", () => {
  it("holds at least 100 commands, each once", () => {
    expect(ORDINARY.length).toBeGreaterThanOrEqual(100)
    expect(new Set(ORDINARY).size).toBe(ORDINARY.length)
  })
  it.each(ORDINARY)("lets %j through", (command) => {
    expect(readOnlyViolation(parser, command)).toBeUndefined()
  })
})
