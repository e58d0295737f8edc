import { describe, expect, it } from "vitest"
import { SCREEN_BUDGET_BYTES, screenOutput, screenText } from "../../../src/mcp/tools/ssh_screen.js"

const screen = (lines: Array<string>, changed?: Record<string, string>) =>
  ({ cols: 120, rows: 40, lines, cursor: { row: 39, col: 119 }, version: 12345, changed })

describe("ssh_screen's result", () => {
  it("is at most 6 KB for a full 120 x 40 screen", () => {
    // Every cell printed, and characters JSON must escape.
    const full = Array.from({ length: 40 }, (_, r) => `${String(r).padStart(2, "0")} "quoted" \\ ${"x".repeat(120)}`.slice(0, 120))
    const json = JSON.stringify(screenOutput("job-0123abcd", "running", screen(full)))
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(6 * 1024)
    expect(JSON.parse(json).screen.split("\n")).toEqual(full)
  })

  it("leaves out trailing blank rows, and gives only the changed rows when asked since a version", () => {
    expect(screenText(["a", "", "b", "", ""])).toBe("a\n\nb")
    const out = screenOutput("job-1", "running", screen(["a"], { "3": "new" }))
    expect(out).toMatchObject({ screen: null, changed: { "3": "new" }, size: "120x40", cursor: { row: 39, col: 119 } })
  })

  it("stays inside the result budget whatever the characters, and says what it left out", () => {
    const wide = Array.from({ length: 40 }, () => "日本語".repeat(40))
    const text = screenText(wide)
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SCREEN_BUDGET_BYTES + 200)
    expect(text.split("\n").at(-1)).toMatch(/^… rows \d+-39 left out \(result budget\)/)
  })
})
