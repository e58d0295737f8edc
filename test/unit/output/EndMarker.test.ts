import { describe, expect, it } from "vitest"
import { EndMarker } from "../../../src/output/EndMarker.js"

const MARK = Buffer.from("\x1b]mcp;end;abc\x07")

/** Push `chunks`; what passed, and whether the marker was found. */
const run = (chunks: ReadonlyArray<string>) => {
  const m = new EndMarker(MARK)
  let out = ""
  for (const c of chunks) out += m.push(Buffer.from(c, "latin1")).toString("latin1")
  return { out, found: m.found, pending: m.pending }
}

describe("EndMarker", () => {
  it("passes everything before the marker, whole or cut across chunks at any point", () => {
    const data = "line 1\r\nline 2\r\n\x1b[31mred\x1b[0m"
    const all = data + MARK.toString("latin1")
    for (let i = 0; i <= all.length; i++) {
      for (let j = i; j <= all.length; j++) {
        expect(run([all.slice(0, i), all.slice(i, j), all.slice(j)])).toEqual({ out: data, found: true, pending: 0 })
      }
    }
  })

  it("holds back only an end that could begin the marker, and lets it go when it does not", () => {
    expect(run(["abc\x1b]mc"])).toEqual({ out: "abc", found: false, pending: 4 })
    expect(run(["abc\x1b]mc", "x rest"])).toEqual({ out: "abc\x1b]mcx rest", found: false, pending: 0 })
    expect(run(["\x1b[0m"])).toEqual({ out: "\x1b[0m", found: false, pending: 0 })
    // Another nonce is output like any other bytes.
    expect(run(["\x1b]mcp;end;abd\x07more"])).toEqual({ out: "\x1b]mcp;end;abd\x07more", found: false, pending: 0 })
  })

  it("passes nothing after the marker", () => {
    expect(run(["a", MARK.toString("latin1"), "after"])).toEqual({ out: "a", found: true, pending: 0 })
  })
})
