import { describe, expect, it } from "vitest"
import { escapeControls, quoteForHuman } from "../../../src/domain/escapeText.js"

describe("escapeControls", () => {
  it("writes C0, DEL, C1, separators and bidi controls as escapes, one line", () => {
    expect(escapeControls("a\u001b]52;c;eA==\u0007b")).toBe("a\\x1b]52;c;eA==\\x07b")
    expect(escapeControls("l1\nl2\r\tx\u0000\u007f\u0085\u009b")).toBe("l1\\nl2\\r\\tx\\x00\\x7f\\x85\\x9b")
    expect(escapeControls("\u2028\u2029\u202e\u2066\u2069\u200e\u200f\u061c")).toBe("\\u2028\\u2029\\u202e\\u2066\\u2069\\u200e\\u200f\\u061c")
  })

  it("leaves printable text alone, other scripts and emoji too", () => {
    const text = "ls -la ~/Übung 'quoted' \"dq\" \\x1b 日本 \u{1F4A3} عربى"
    expect(escapeControls(text)).toBe(text)
  })
})

describe("quoteForHuman", () => {
  it("is a JSON string that also escapes DEL, C1, separators and bidi controls", () => {
    const text = "rm -rf /\u2028Trust it? yes\u202e\u0085\u007f\"\n"
    const quoted = quoteForHuman(text)
    expect(quoted).toBe("\"rm -rf /\\u2028Trust it? yes\\u202e\\u0085\\u007f\\\"\\n\"")
    expect(JSON.parse(quoted)).toBe(text)
    expect(quoted).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u)
  })
})
