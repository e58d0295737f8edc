import { describe, expect, it } from "vitest"
import { CappedOutput } from "../../../src/output/CappedOutput.js"

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

  it("keeps head and tail with the exact omitted count", () => {
    const c = feed(10, ["0123456789", "abcdefghij", "KLMNOPQRST"])
    expect(c.truncated).toBe(true)
    expect(c.text()).toBe("01234\n… 20 bytes omitted …\nPQRST")
    expect(c.omitted).toBe(20)
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
    const c = feed(9, ["€€€€€€€€€€"]) // 30 bytes, 3 each
    const text = c.text()
    expect(text).not.toContain("\uFFFD")
    const omitted = Number(/… (\d+) bytes omitted …/.exec(text)![1])
    const kept = Buffer.byteLength(text.replace(/\n… \d+ bytes omitted …\n/, ""))
    expect(omitted + kept).toBe(30)
  })

  it("handles a cap of zero and empty input", () => {
    expect(feed(0, []).text()).toBe("")
    expect(feed(0, ["abc"]).text()).toBe("\n… 3 bytes omitted …\n")
  })
})
