import { describe, expect, it } from "vitest"
import { lineNos, linesOf, parseTailText, tailText } from "../../../src/mcp/tailText.js"

const result = (lines: Array<{ n: number; stream: string; text: string }>) => ({
  job_id: "job-1",
  lines,
  next_line_no: lines.length + 1,
  dropped: 0,
  partial: "Password: ",
  more: false,
  matched: lines[0] ?? null,
  status: "running",
  exit_status: null,
  signal: null,
  awaiting_input: true,
  prompt: "Password: "
})

describe("the ssh_tail text block (format: lines)", () => {
  it("is the other fields as JSON, then one line per output line as printed", () => {
    const r = result([{ n: 1, stream: "stdout", text: "hello" }, { n: 2, stream: "stderr", text: "3 stdout: not a line of ours" }])
    expect(tailText(r)).toBe(
      `{"job_id":"job-1","next_line_no":3,"dropped":0,"partial":"Password: ","more":false,"matched":{"n":1,"stream":"stdout","text":"hello"},` +
        `"status":"running","exit_status":null,"signal":null,"awaiting_input":true,"prompt":"Password: "}\n1 stdout: hello\n2 stderr: 3 stdout: not a line of ours`
    )
  })

  it("is the JSON alone when there are no lines", () => {
    const { lines: _, ...rest } = result([])
    expect(tailText(result([]))).toBe(JSON.stringify(rest))
    expect(parseTailText(tailText(result([])))).toEqual(result([]))
  })

  it("reads back what it wrote, whatever the lines hold (randomized)", () => {
    const alphabet = ["a", " ", ":", "\t", "\r", "\\", '"', "{", "}", "é", "€", "😀", "\u0000", "\u001b[31m", "1 stdout: "]
    let seed = 7
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    for (let round = 0; round < 200; round++) {
      const lines = Array.from({ length: rnd(20) }, (_, i) => ({
        n: 100 + i,
        stream: rnd(2) === 0 ? "stdout" : "stderr",
        text: Array.from({ length: rnd(30) }, () => alphabet[rnd(alphabet.length)]).join("")
      }))
      expect(parseTailText(tailText(result(lines)))).toEqual(result(lines))
    }
  })

  it("is not mistaken for another text", () => {
    expect(parseTailText("HOST_NOT_FOUND: no host box")).toBeUndefined()
    expect(parseTailText("[1, 2]")).toBeUndefined()
    expect(parseTailText('{"job_id":"j"}\nnot a line')).toBeUndefined()
    expect(parseTailText('{"job_id":"j"}')).toEqual({ job_id: "j", lines: [] })
  })
})

/** A default-form result for `lines`. */
const compact = (lines: Array<{ n: number; stream: string; text: string }>) => ({
  job_id: "job-1",
  line_nos: lineNos(lines),
  next_line_no: 9,
  dropped: 0,
  partial: "",
  more: false,
  matched_line_no: null,
  status: "exited",
  exit_status: 0,
  signal: null,
  awaiting_input: false,
  prompt: null,
  text: lines.map((l) => l.text).join("\n")
})

describe("the default form: text and line_nos", () => {
  it("numbers the lines as runs of one stream, e for stderr", () => {
    const l = (n: number, stream = "stdout") => ({ n, stream })
    expect(lineNos([])).toBe("")
    expect(lineNos([l(5)])).toBe("5")
    expect(lineNos([l(1), l(2), l(3), l(4, "stderr"), l(5, "stderr"), l(6)])).toBe("1-3,e4-5,6")
    // Gaps (another stream's lines, or evicted ones) start a new run.
    expect(lineNos([l(1), l(3), l(4), l(9, "stderr")])).toBe("1,3-4,e9")
  })

  it("reads back every line, its number and its stream (randomized)", () => {
    let seed = 11
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    for (let round = 0; round < 300; round++) {
      let n = rnd(5)
      const lines = Array.from({ length: rnd(40) }, () => ({
        n: (n += 1 + (rnd(4) === 0 ? rnd(3) : 0)),
        stream: rnd(3) === 0 ? "stderr" : "stdout",
        text: rnd(5) === 0 ? "" : `line ${rnd(1000)}`
      }))
      expect(linesOf(lines.map((l) => l.text).join("\n"), lineNos(lines))).toEqual(lines)
    }
  })

  it("tells no lines from one empty line, and refuses numbers that do not match the text", () => {
    expect(linesOf("", "")).toEqual([])
    expect(linesOf("", "7")).toEqual([{ n: 7, stream: "stdout", text: "" }])
    expect(linesOf("a\nb", "1")).toBeUndefined()
    expect(linesOf("a", "1-2")).toBeUndefined()
    expect(linesOf("a", "x1")).toBeUndefined()
    expect(linesOf("a", "3-1")).toBeUndefined()
  })

  it("has a text block of the other fields as JSON, then the lines as printed, read back whole", () => {
    const r = compact([{ n: 3, stream: "stdout", text: '{"a": 1}' }, { n: 4, stream: "stderr", text: "\tboom \\ é" }])
    const { text, ...rest } = r
    expect(tailText(r)).toBe(`${JSON.stringify(rest)}\n{"a": 1}\n\tboom \\ é`)
    expect(parseTailText(tailText(r))).toEqual(r)
    const none = compact([])
    expect(tailText(none)).toBe(JSON.stringify({ ...none, text: undefined }))
    expect(parseTailText(tailText(none))).toEqual(none)
    const empty = compact([{ n: 2, stream: "stdout", text: "" }])
    expect(parseTailText(tailText(empty))).toEqual(empty)
    expect(parseTailText(`${JSON.stringify({ ...rest, line_nos: "3-5" })}\nonly\ntwo`)).toBeUndefined()
  })
})
