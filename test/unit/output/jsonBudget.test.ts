import { describe, expect, it } from "vitest"
import { endWithin, headWithin, jsonCost, tailWithin } from "../../../src/output/jsonBudget.js"

describe("sizes in a result's JSON", () => {
  it("counts a string's bytes as JSON holds them: UTF-8, escapes included", () => {
    expect(jsonCost("abc")).toBe(3)
    expect(jsonCost("é")).toBe(2)
    expect(jsonCost("\n")).toBe(2)
    expect(jsonCost('"\\')).toBe(4)
    expect(jsonCost("\u0001")).toBe(6)
    expect(jsonCost("😀")).toBe(4)
  })

  it("agrees with JSON.stringify for every kind of character, alone and among others", () => {
    const exact = (s: string) => Buffer.byteLength(JSON.stringify(s)) - 2
    const kinds = ["a", " ", "~", "\u007f", "é", "€", "😀", "\n", "\n\n", "\t", "\r", "\u0000", "\u001b", '"', "\\", "\u2028", "\ud800", "\udc00", "\ud83d\ude00"]
    for (const a of kinds) {
      for (const b of kinds) {
        for (const s of [a, `${a}${b}`, `line one${a}\nline two${b}`]) expect(jsonCost(s), JSON.stringify(s)).toBe(exact(s))
      }
    }
  })

  it("cuts to a budget at a character boundary, never inside a surrogate pair", () => {
    const s = "ab😀😀cd\u0001e"
    for (let budget = 0; budget <= jsonCost(s); budget++) {
      const head = headWithin(s, budget)
      const tail = tailWithin(s, budget)
      expect(jsonCost(head)).toBeLessThanOrEqual(budget)
      expect(jsonCost(tail)).toBeLessThanOrEqual(budget)
      expect(s.startsWith(head) && s.endsWith(tail)).toBe(true)
      expect(head).not.toMatch(/[\ud800-\udbff]$/)
      expect(tail).not.toMatch(/^[\udc00-\udfff]/)
      // The longest that fits: one more character would not.
      if (head.length < s.length) expect(jsonCost(s.slice(0, head.length + (s.codePointAt(head.length)! > 0xffff ? 2 : 1)))).toBeGreaterThan(budget)
    }
    expect(endWithin("Password: ", 100)).toBe("Password: ")
    expect(endWithin(`${"x".repeat(100)}Password: `, 20)).toBe("…xxxxxxxPassword: ")
  })
})
