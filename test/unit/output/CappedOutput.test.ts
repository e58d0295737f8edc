import { describe, expect, it } from "vitest"
import { CappedOutput } from "../../../src/output/CappedOutput.js"
import { jsonCost } from "../../../src/output/jsonBudget.js"

const feed = (cap: number, chunks: Array<string | Uint8Array>) => {
  const c = new CappedOutput(cap)
  for (const chunk of chunks) c.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk)
  return c
}

describe("CappedOutput", () => {
  it("returns short output whole", () => {
    const c = feed(100, ["hello ", "world\n"])
    expect(c.text()).toBe("hello world\n")
    expect(c.truncated).toBe(false)
    expect(c.bytes).toBe(12)
  })

  it("keeps head and tail with the exact omitted count; a single over-long line is cut and marked", () => {
    // Was "01234\n… 20 bytes omitted …\nPQRST": the same cut, now marked as inside a line.
    const c = feed(10, ["0123456789", "abcdefghij", "KLMNOPQRST"])
    expect(c.truncated).toBe(true)
    expect(c.text()).toBe("01234\n… 20 bytes omitted (the lines above and below are cut) …\nPQRST")
    expect(c.omitted).toBe(20)
  })

  it("cuts at line boundaries: only whole lines on either side of the marker", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i + 1).padStart(3, "0")}\n`)
    for (const chunks of [lines, [lines.join("")], lines.join("").split(/(?<=e)/)]) {
      const c = feed(100, chunks)
      const text = c.text()
      const [head, tail] = text.split(/\n… \d+ bytes omitted …\n/)
      expect(head!.split("\n").every((l) => /^line \d{3}$/.test(l))).toBe(true)
      expect(tail!.split("\n").slice(0, -1).every((l) => /^line \d{3}$/.test(l))).toBe(true)
      expect(head!.startsWith("line 001\nline 002")).toBe(true)
      expect(tail!.endsWith("line 099\nline 100\n")).toBe(true)
      const omitted = Number(/… (\d+) bytes omitted …/.exec(text)![1])
      expect(omitted + Buffer.byteLength(head!) + Buffer.byteLength(tail!)).toBe(c.bytes)
      expect(c.omitted).toBe(omitted)
    }
  })

  it("keeps a line that fills the head exactly, and a tail that starts on a line", () => {
    // head 6 bytes "abcdef" is a whole line: the next byte is its newline.
    expect(feed(12, ["abcdef\nghijk\nlmnop\n"]).text()).toBe("abcdef\n… 7 bytes omitted …\nlmnop\n")
    // head "abcde\n": its newline is the marker's line break.
    expect(feed(12, ["abcde\nfghij\nklmno\n"]).text()).toBe("abcde\n… 7 bytes omitted …\nklmno\n")
  })

  it("marks a last line longer than the tail budget", () => {
    const c = feed(20, ["a\n", "x".repeat(100)])
    expect(c.text()).toBe(`a\n… ${102 - 1 - 10} bytes omitted (the line below is cut) …\n${"x".repeat(10)}`)
    const d = feed(20, ["x".repeat(100), "\nb\n"])
    expect(d.text()).toBe(`${"x".repeat(10)}\n… ${103 - 10 - 2} bytes omitted (the line above is cut) …\nb\n`)
  })

  it("cuts multibyte UTF-8 lines at line boundaries, and an over-long one at a character boundary", () => {
    const lines = Array.from({ length: 50 }, (_, i) => `€ü${i}€\n`)
    for (const cap of [30, 31, 32, 33, 40]) {
      const c = feed(cap, [lines.join("")])
      const text = c.text()
      expect(text).not.toContain("\uFFFD")
      const [head, tail] = text.split(/\n… \d+ bytes omitted …\n/)
      expect(head!.split("\n").every((l) => /^€ü\d+€$/.test(l))).toBe(true)
      expect(tail!.split("\n").slice(0, -1).every((l) => /^€ü\d+€$/.test(l))).toBe(true)
      const omitted = Number(/… (\d+) bytes omitted …/.exec(text)![1])
      expect(omitted + Buffer.byteLength(head!) + Buffer.byteLength(tail!)).toBe(c.bytes)
    }
    for (const cap of [7, 8, 9, 10]) {
      const text = feed(cap, ["€".repeat(10), "\n", "é".repeat(10)]).text()
      expect(text).not.toContain("\uFFFD")
      expect(text).toMatch(/^€+\n… \d+ bytes omitted \(the lines above and below are cut\) …\né+$/)
    }
  })

  it("keeps the tail right across many small chunks", () => {
    const chunks = Array.from({ length: 1000 }, (_, i) => `${i}\n`)
    const c = feed(64, chunks)
    const text = c.text()
    expect(text.startsWith("0\n1\n2\n")).toBe(true)
    expect(text.endsWith("998\n999\n")).toBe(true)
    const omitted = Number(/… (\d+) bytes omitted …/.exec(text)![1])
    const kept = Buffer.byteLength(text.replace(/\n… \d+ bytes omitted …\n/, ""))
    expect(omitted + kept).toBe(c.bytes)
  })

  it("never splits a UTF-8 character at the cut points", () => {
    // One line longer than the cap: the marker now also says it is cut (the regexes allow for that).
    const c = feed(9, ["€€€€€€€€€€"]) // 30 bytes, 3 each
    const text = c.text()
    expect(text).not.toContain("\uFFFD")
    const omitted = Number(/… (\d+) bytes omitted/.exec(text)![1])
    const kept = Buffer.byteLength(text.replace(/\n… \d+ bytes omitted[^…]*…\n/, ""))
    expect(omitted + kept).toBe(30)
  })

  it("handles a cap of zero and empty input", () => {
    expect(feed(0, []).text()).toBe("")
    expect(feed(0, ["abc"]).text()).toBe("\n… 3 bytes omitted …\n")
  })
})

describe("CappedOutput within a JSON budget (ssh_exec's reply)", () => {
  const lines = Array.from({ length: 1000 }, (_, i) => `line ${String(i + 1).padStart(4, "0")}\n`)

  it("counts the whole lines shown before the marker", () => {
    const c = feed(1 << 20, lines)
    expect(c.headLines()).toBe(0)
    const text = c.text(200)
    const head = text.slice(0, text.indexOf("\n…"))
    expect(c.headLines(200)).toBe(head.split("\n").length)
    expect(head.split("\n").at(-1)).toBe(`line ${String(c.headLines(200)).padStart(4, "0")}`)
    // A head that is only the start of a line shows no whole line.
    expect(feed(1 << 20, ["x".repeat(500), "\nend\n"]).headLines(100)).toBe(0)
  })

  it("finds the largest cut whose JSON, marker and route included, fits the budget", () => {
    const route = "ssh_tail job_id job-1 stream stdout since_line_no 9 pages them"
    for (const body of [lines, lines.map((l) => l.replace("line", "\u0001\u0002\"é"))]) {
      const c = feed(1 << 20, body)
      for (const budget of [300, 1000, 5000]) {
        const cap = c.capWithin(budget, undefined, route)
        const text = c.text(cap, undefined, route)
        expect(jsonCost(text)).toBeLessThanOrEqual(budget)
        expect(text).toContain(`; ${route} …`)
        // Not far from the budget: a cap much larger would not fit.
        expect(jsonCost(c.text(cap + 200, undefined, route))).toBeGreaterThan(budget)
      }
    }
    const small = feed(1 << 20, ["a\n", "b\n"])
    expect(small.text(small.capWithin(100))).toBe("a\nb\n")
  })
})

