import { describe, expect, it } from "vitest"
import { parseTailText, tailText } from "../../../src/mcp/tailText.js"

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

describe("the ssh_tail text block", () => {
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
