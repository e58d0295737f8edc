import { describe, expect, it } from "vitest"
import type { Line } from "../../../src/output/RingBuffer.js"
import type { JobInfo, TailResult } from "../../../src/services/Jobs.js"
import { linesOf } from "../../../src/mcp/tailText.js"
import { DEFAULT_REPLY_BYTES } from "../../../src/mcp/tools/replyBudget.js"
import { type LinesReply, tailReply, type TextReply } from "../../../src/mcp/tools/tailReply.js"

const job: JobInfo = {
  jobId: "job-1", host: "box", command: "x", label: null, status: "running", exitStatus: null, signal: null, pid: 1,
  persistent: false, startedAt: new Date(0), endedAt: null, lines: { stdout: 0, stderr: 0, total: 0 }, dropped: 0,
  awaitingInput: false, prompt: null, endReason: null, pty: false, tmux: null, recording: null
}

const result = (lines: Array<Line>, extra: Partial<TailResult> = {}): TailResult => ({
  lines,
  nextLineNo: lines.at(-1)?.n ?? 0,
  dropped: 0,
  partial: "",
  more: false,
  matched: null,
  job,
  ...extra
})

const numbered = (texts: Array<string>, from = 1): Array<Line> =>
  texts.map((text, i) => ({ n: from + i, stream: i % 7 === 3 ? "stderr" : "stdout", text }))

const size = (o: unknown) => Buffer.byteLength(JSON.stringify(o))

describe("ssh_tail's reply within its budget", () => {
  it("gives every line when they fit, with the cursor and more as read", () => {
    const lines = numbered(["a", "b", "c"])
    const r = tailReply("job-1", result(lines, { more: false }), { format: "text", budget: DEFAULT_REPLY_BYTES }) as TextReply
    expect(linesOf(r.text, r.line_nos)).toEqual(lines)
    expect(r).toMatchObject({ next_line_no: 3, more: false, matched_line_no: null })
  })

  it("stays within 16 KiB of JSON whatever the lines hold, giving whole lines and leaving the rest for the next call", () => {
    let seed = 3
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    const alphabet = ["a", "é", "😀", "\u0001", "\u001b[1m", '"', "\\", " "]
    for (let round = 0; round < 30; round++) {
      const lines = numbered(Array.from({ length: 50 + rnd(400) }, () => Array.from({ length: rnd(300) }, () => alphabet[rnd(alphabet.length)]).join("")))
      for (const format of ["text", "lines"] as const) {
        const r = tailReply("job-1", result(lines), { format, budget: DEFAULT_REPLY_BYTES })
        expect(size(r)).toBeLessThanOrEqual(DEFAULT_REPLY_BYTES)
        const given = format === "text" ? linesOf((r as TextReply).text, (r as TextReply).line_nos)! : (r as LinesReply).lines
        expect(given).toEqual(lines.slice(0, given.length))
        expect(given.length).toBeGreaterThan(0)
        if (given.length < lines.length) {
          expect(r.more).toBe(true)
          expect(r.next_line_no).toBe(given.at(-1)!.n)
          // Nearly full: the next line would not have fitted.
          const next = tailReply("job-1", result(lines.slice(0, given.length + 1)), { format, budget: 10 * DEFAULT_REPLY_BYTES })
          expect(size(next)).toBeGreaterThan(DEFAULT_REPLY_BYTES)
        }
      }
    }
  })

  it("cuts a single line longer than the budget with a marker, and moves past it", () => {
    const long = "x".repeat(65_536)
    for (const format of ["text", "lines"] as const) {
      const r = tailReply("job-1", result(numbered([long, "next"], 5)), { format, budget: DEFAULT_REPLY_BYTES })
      expect(size(r)).toBeLessThanOrEqual(DEFAULT_REPLY_BYTES)
      expect(size(r)).toBeGreaterThan(DEFAULT_REPLY_BYTES - 200)
      const text = format === "text" ? (r as TextReply).text : (r as LinesReply).lines[0]!.text
      expect(text).toMatch(/^x+…\[line cut: \d+ more bytes; a larger max_bytes returns it whole\]$/)
      const kept = /^x+/.exec(text)![0].length
      expect(text).toContain(`${65_536 - kept} more bytes`)
      expect(r).toMatchObject({ next_line_no: 5, more: true })
    }
    // Asked for enough, the line comes whole.
    const whole = tailReply("job-1", result(numbered([long])), { format: "text", budget: 1_048_576 }) as TextReply
    expect(whole.text).toBe(long)
  })

  it("returns one line even within a caller's tiny budget", () => {
    const r = tailReply("job-1", result(numbered(["6", "7", "8"], 6)), { format: "text", budget: 6 }) as TextReply
    expect(r.text).toBe("6")
    expect(r).toMatchObject({ line_nos: "6", next_line_no: 6, more: true })
  })

  it("keeps the match only when its line is given", () => {
    const lines = numbered(["a".repeat(10_000), "b".repeat(10_000), "READY"])
    const m = lines[2]!
    const cut = tailReply("job-1", result(lines, { matched: m, nextLineNo: 3 }), { format: "text", budget: DEFAULT_REPLY_BYTES }) as TextReply
    expect(cut).toMatchObject({ matched_line_no: null, more: true, next_line_no: 1 })
    const all = tailReply("job-1", result(lines, { matched: m, nextLineNo: 3 }), { format: "lines", budget: 100_000 }) as LinesReply
    expect(all.matched).toEqual(m)
    const text = tailReply("job-1", result(lines, { matched: m, nextLineNo: 3 }), { format: "text", budget: 100_000 }) as TextReply
    expect(text.matched_line_no).toBe(3)
  })

  it("keeps the end of a long unterminated line and prompt", () => {
    const partial = `${"p".repeat(5000)}Password: `
    const r = tailReply("job-1", result([], { partial, job: { ...job, awaitingInput: true, prompt: partial } }), { format: "text", budget: DEFAULT_REPLY_BYTES }) as TextReply
    expect(r.partial.startsWith("…")).toBe(true)
    expect(r.partial.endsWith("Password: ")).toBe(true)
    expect(Buffer.byteLength(r.partial)).toBeLessThanOrEqual(1024)
    expect(r.prompt).toBe(r.partial)
  })

  it("costs little more than the output itself: 500 lines of 40 bytes", () => {
    const lines = Array.from({ length: 500 }, (_, i): Line => ({ n: i + 1, stream: "stdout", text: `${String(i + 1).padStart(5, "0")} the quick brown fox jumps over a.` }))
    const raw = lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0)
    expect(raw).toBe(20_000)
    const r = tailReply("job-1", result(lines), { format: "text", budget: 65_536 }) as TextReply
    expect(linesOf(r.text, r.line_nos)).toHaveLength(500)
    expect(size(r) / raw).toBeLessThanOrEqual(1.15)
    const perLine = tailReply("job-1", result(lines), { format: "lines", budget: 65_536 })
    expect(size(perLine) / raw).toBeGreaterThan(1.5)
  })
})
