import { describe, expect, it } from "vitest"
import { parseSourceVerdict } from "../../../src/transfers/rangeCommands.js"

describe("parseSourceVerdict (a download hasher's first line)", () => {
  it("reads the size and the octal mode of an ok", () => {
    expect(parseSourceVerdict("ok 67108864 644")).toEqual({ ok: true, size: 67108864, mode: 0o644 })
    expect(parseSourceVerdict("ok 0 4755")).toEqual({ ok: true, size: 0, mode: 0o4755 })
  })

  it("says why not, and takes anything else (a banner, nothing at all) as no answer", () => {
    expect(parseSourceVerdict("ranged not-file")).toEqual({ ok: false, why: "not-file" })
    expect(parseSourceVerdict("ok")).toEqual({ ok: false, why: "no answer" })
    expect(parseSourceVerdict("ok 12 rw-r--r--")).toEqual({ ok: false, why: "no answer" })
    expect(parseSourceVerdict("Welcome to the host")).toEqual({ ok: false, why: "no answer" })
    expect(parseSourceVerdict(undefined)).toEqual({ ok: false, why: "no answer" })
  })
})
