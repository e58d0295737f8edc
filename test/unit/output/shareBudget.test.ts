import { describe, expect, it } from "vitest"
import { CappedOutput } from "../../../src/output/CappedOutput.js"
import { shareBudget } from "../../../src/output/shareBudget.js"

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

describe("shareBudget", () => {
  it("keeps everything when it fits", () => {
    expect(shareBudget([10, 0, 30], 100)).toEqual([10, 0, 30])
    expect(shareBudget([10, 0, 30], 40)).toEqual([10, 0, 30])
  })

  it("lets small outputs keep all they have and shares the rest equally among the large ones, in input order", () => {
    expect(shareBudget([1000, 10, 1000, 20], 530)).toEqual([250, 10, 250, 20])
    expect(shareBudget([5, 5000], 1000)).toEqual([5, 995])
    expect(shareBudget([300, 300, 300], 100)).toEqual([33, 33, 34])
    expect(shareBudget([], 100)).toEqual([])
    expect(shareBudget([7, 7], 0)).toEqual([0, 0])
  })

  it("never hands out more than the budget or than an item has", () => {
    let seed = 7
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    for (let n = 0; n < 300; n++) {
      const sizes = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() ** 3 * 10_000))
      const budget = Math.floor(rnd() * 20_000)
      const shares = shareBudget(sizes, budget)
      expect(sum(shares)).toBeLessThanOrEqual(budget)
      shares.forEach((s, i) => expect(s).toBeLessThanOrEqual(sizes[i]!))
      // Nothing is left unused while an item is cut.
      if (shares.some((s, i) => s < sizes[i]!)) expect(budget - sum(shares)).toBeLessThan(sizes.length)
      else expect(shares).toEqual(sizes)
    }
  })
})

describe("CappedOutput cut again to a smaller cap", () => {
  const feed = (cap: number, chunks: ReadonlyArray<string>) => {
    const c = new CappedOutput(cap)
    for (const chunk of chunks) c.push(Buffer.from(chunk))
    return c
  }

  it("is the same text as if the smaller cap had been the cap, the marker naming what cut it", () => {
    let seed = 11
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const words = ["a", "bb\n", "ccc", "€\n", "\n", "dddddd", "ü", "line of text\n"]
    for (let n = 0; n < 500; n++) {
      const text = Array.from({ length: Math.floor(rnd() * 60) }, () => words[Math.floor(rnd() * words.length)]!).join("")
      const bytes = Buffer.from(text)
      const chunks: Array<string> = []
      // Chunks of whole characters (no astral ones in `words`, so slicing the string splits none).
      for (let i = 0; i < text.length;) {
        const len = 1 + Math.floor(rnd() * 20)
        chunks.push(text.slice(i, i + len))
        i += len
      }
      const big = 1 + Math.floor(rnd() * (bytes.length + 20))
      const small = Math.floor(rnd() * (big + 1))
      const wide = feed(big, chunks)
      const narrow = feed(small, chunks)
      expect(wide.text(small), `big ${big} small ${small} ${JSON.stringify(text)}`).toBe(narrow.text())
      expect(wide.truncatedAt(small)).toBe(narrow.truncated)
      if (small < big && narrow.truncated) {
        expect(wide.text(small, "the total")).toBe(narrow.text().replace(/ bytes omitted/, " bytes omitted by the total"))
      }
    }
  })

  it("never widens: a larger cap than the constructor's is the constructor's", () => {
    const c = feed(10, ["0123456789abcdefghij\n"])
    expect(c.text(1000)).toBe(c.text())
    expect(c.text(1000, "x")).not.toContain("by x")
  })
})
