import { describe, expect, it } from "vitest"
import { STDIN_MARKER } from "../../../src/ssh/shell.js"
import { StdinMarkers } from "../../../src/ssh/StdinMarkers.js"

/** Feed `chunks`; what came out, markers shown as <1>/<0>, in order. */
const run = (chunks: ReadonlyArray<string | Buffer>): string => {
  let out = ""
  const m = new StdinMarkers((blocked) => void (out += blocked ? "<1>" : "<0>"))
  const emit = (b: Buffer) => void (out += b.toString("latin1"))
  for (const c of chunks) m.filter(Buffer.isBuffer(c) ? c : Buffer.from(c, "latin1"), emit)
  m.flush(emit)
  return out
}

const on = `${STDIN_MARKER}1\n`
const off = `${STDIN_MARKER}0\n`

describe("StdinMarkers", () => {
  it("passes output without a record separator through untouched", () => {
    const chunk = Buffer.from("plain stderr\n")
    const seen: Array<Buffer> = []
    new StdinMarkers(() => {}).filter(chunk, (b) => seen.push(b))
    expect(seen).toEqual([chunk])
    expect(seen[0]).toBe(chunk)
  })

  it("takes markers out, reporting them in stream order, inside an unterminated line too", () => {
    expect(run([`Name: ${on}`, `more${off}tail\n`])).toBe("Name: <1>more<0>tail\n")
    expect(run([`${on}${off}${on}`])).toBe("<1><0><1>")
  })

  it("finds a marker cut across chunks at any byte", () => {
    const text = `a${on}b${off}c`
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(run([text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe("a<1>b<0>c")
      }
    }
  })

  it("leaves a record separator that is not a marker in the output, even at a chunk's end", () => {
    expect(run(["x\u001ey\n"])).toBe("x\u001ey\n")
    expect(run([`${STDIN_MARKER}2\n`])).toBe(`${STDIN_MARKER}2\n`)
    expect(run([`${STDIN_MARKER}1x`])).toBe(`${STDIN_MARKER}1x`)
    expect(run(["end\u001e"])).toBe("end\u001e")
    expect(run(["\u001e", "\u001e", on])).toBe("\u001e\u001e<1>")
    expect(run([STDIN_MARKER.slice(0, 5)])).toBe(STDIN_MARKER.slice(0, 5))
  })
})
