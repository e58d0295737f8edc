import { describe, expect, it } from "vitest"
import type { StreamName } from "../../../src/domain/jobs.js"
import { type Line, type ReadOptions, RingBuffer } from "../../../src/output/RingBuffer.js"

/** A read, its `text` (when given) checked against its lines and left out, so it compares with a model's. */
const read = (rb: RingBuffer, options: ReadOptions) => {
  const { text, ...rest } = rb.read(options)
  if (text !== undefined) expect(text).toBe(rest.lines.map((l) => l.text).join("\n"))
  return rest
}

const BIG = Number.MAX_SAFE_INTEGER

const readAll = (rb: RingBuffer, since: number, stream: "both" | StreamName = "both") =>
  read(rb, { since, stream, maxLines: BIG, maxBytes: BIG })

const ns = (lines: ReadonlyArray<Line>): Array<number> => lines.map((l) => l.n)

/** A tiny deterministic PRNG (mulberry32). */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** The contract, kept naively: every line ever, each flagged evicted or not. */
class Model {
  readonly all: Array<Line & { evicted: boolean; bytes: number }> = []
  private readonly kept: Record<StreamName, Array<Line & { evicted: boolean; bytes: number }>> = { stdout: [], stderr: [] }
  constructor(readonly maxLines: number, readonly maxBytes: number) {}

  append(stream: StreamName, text: string): void {
    const line = { n: this.all.length + 1, stream, text, evicted: false, bytes: Buffer.byteLength(text) }
    const kept = this.kept[stream]
    const total = () => kept.reduce((s, l) => s + l.bytes, 0)
    while (kept.length > 0 && (kept.length >= this.maxLines || total() + line.bytes > this.maxBytes)) kept.shift()!.evicted = true
    kept.push(line)
    this.all.push(line)
  }

  read(since: number, stream: "both" | StreamName, maxLines: number, maxBytes: number) {
    const mine = this.all.filter((l) => l.n > since && (stream === "both" || l.stream === stream))
    const available = mine.filter((l) => !l.evicted)
    const lines: Array<Line> = []
    let bytes = 0
    for (const l of available) {
      if (lines.length >= maxLines || (lines.length > 0 && bytes + l.bytes > maxBytes)) break
      lines.push({ n: l.n, stream: l.stream, text: l.text })
      bytes += l.bytes
    }
    const more = lines.length < available.length
    const nextLineNo = more ? (lines.length > 0 ? lines[lines.length - 1]!.n : since) : Math.max(since, this.all.length)
    return { lines, bytes, nextLineNo, dropped: mine.filter((l) => l.evicted).length, more }
  }
}

describe("RingBuffer", () => {
  it("numbers lines job-wide across both streams", () => {
    const rb = new RingBuffer({ maxLines: 10, maxBytes: 1000 })
    expect(rb.lastLineNo).toBe(0)
    expect(rb.append("stdout", "a")).toEqual({ n: 1, stream: "stdout", text: "a" })
    expect(rb.append("stderr", "b")).toEqual({ n: 2, stream: "stderr", text: "b" })
    expect(rb.append("stdout", "c")).toEqual({ n: 3, stream: "stdout", text: "c" })
    expect(rb.lastLineNo).toBe(3)
    const r = readAll(rb, 0)
    expect(r.lines.map((l) => `${l.n}:${l.stream}:${l.text}`)).toEqual(["1:stdout:a", "2:stderr:b", "3:stdout:c"])
    expect(r).toMatchObject({ nextLineNo: 3, dropped: 0, more: false })
    expect(rb.counts()).toEqual({ stdout: 2, stderr: 1, total: 3, dropped: { stdout: 0, stderr: 0 } })
  })

  it("returns nextLineNo = since on an empty buffer", () => {
    const rb = new RingBuffer({ maxLines: 10, maxBytes: 1000 })
    expect(readAll(rb, 0)).toEqual({ lines: [], bytes: 0, nextLineNo: 0, dropped: 0, more: false })
    expect(readAll(rb, 7, "stdout")).toEqual({ lines: [], bytes: 0, nextLineNo: 7, dropped: 0, more: false })
  })

  it("evicts the oldest lines of a stream by line count", () => {
    const rb = new RingBuffer({ maxLines: 3, maxBytes: 1000 })
    for (let i = 1; i <= 5; i++) rb.append("stdout", `o${i}`)
    rb.append("stderr", "e6")
    expect(ns(readAll(rb, 0).lines)).toEqual([3, 4, 5, 6])
    expect(readAll(rb, 0).dropped).toBe(2)
    expect(readAll(rb, 1).dropped).toBe(1)
    expect(readAll(rb, 2).dropped).toBe(0)
    expect(readAll(rb, 0, "stderr")).toEqual({ lines: [{ n: 6, stream: "stderr", text: "e6" }], bytes: 2, nextLineNo: 6, dropped: 0, more: false })
    expect(rb.counts()).toEqual({ stdout: 5, stderr: 1, total: 6, dropped: { stdout: 2, stderr: 0 } })
  })

  it("evicts by bytes, counting UTF-8 bytes", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 10 })
    rb.append("stdout", "€€") // 6 bytes
    rb.append("stdout", "ab") // 8
    rb.append("stdout", "cd") // 10: fits exactly
    expect(ns(readAll(rb, 0).lines)).toEqual([1, 2, 3])
    rb.append("stdout", "e") // 11 > 10: the 6-byte line goes
    expect(ns(readAll(rb, 0).lines)).toEqual([2, 3, 4])
    rb.append("stdout", "𝄞𝄞") // 8 bytes: needs 2+2+1 freed → only 4 and 5 left (1 + 8 = 9)
    expect(ns(readAll(rb, 0).lines)).toEqual([4, 5])
    expect(readAll(rb, 0).dropped).toBe(3)
    // Other stream has its own byte budget.
    rb.append("stderr", "0123456789")
    expect(ns(readAll(rb, 0).lines)).toEqual([4, 5, 6])
  })

  it("keeps the newest line even when it alone exceeds maxBytes", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 4 })
    rb.append("stdout", "ab")
    rb.append("stdout", "too long for the cap")
    expect(readAll(rb, 0)).toMatchObject({ dropped: 1, more: false, nextLineNo: 2 })
    expect(readAll(rb, 0).lines.map((l) => l.text)).toEqual(["too long for the cap"])
    rb.append("stdout", "cd")
    expect(readAll(rb, 0).lines.map((l) => l.text)).toEqual(["cd"])
  })

  it("reports dropped exactly for 1,000,000 lines of one stream", () => {
    const rb = new RingBuffer({ maxLines: 10000, maxBytes: 8 * 1024 * 1024 })
    for (let i = 1; i <= 1_000_000; i++) rb.append("stdout", String(i))
    const r = read(rb, { since: 0, stream: "both", maxLines: 100, maxBytes: BIG })
    expect(r.dropped).toBe(990_000)
    expect(r.lines[0]).toEqual({ n: 990_001, stream: "stdout", text: "990001" })
    expect(r).toMatchObject({ nextLineNo: 990_100, more: true })
    expect(read(rb, { since: 0, stream: "stdout", maxLines: 1, maxBytes: BIG }).dropped).toBe(990_000)
    expect(read(rb, { since: 0, stream: "stderr", maxLines: 1, maxBytes: BIG })).toEqual({ lines: [], bytes: 0, nextLineNo: 1_000_000, dropped: 0, more: false })
    expect(read(rb, { since: 995_000, stream: "stdout", maxLines: 1, maxBytes: BIG })).toMatchObject({ dropped: 0, lines: [{ n: 995_001 }] })
    expect(read(rb, { since: 500_000, stream: "stdout", maxLines: 1, maxBytes: BIG }).dropped).toBe(490_000)
    expect(read(rb, { since: 990_000, stream: "stdout", maxLines: 1, maxBytes: BIG }).dropped).toBe(0)
    expect(read(rb, { since: 989_999, stream: "stdout", maxLines: 1, maxBytes: BIG }).dropped).toBe(1)
    expect(rb.counts()).toEqual({ stdout: 1_000_000, stderr: 0, total: 1_000_000, dropped: { stdout: 990_000, stderr: 0 } })
  })

  it("advances the cursor past lines filtered out by stream", () => {
    const rb = new RingBuffer({ maxLines: 10, maxBytes: 1000 })
    rb.append("stdout", "o1")
    rb.append("stdout", "o2")
    rb.append("stderr", "e3")
    rb.append("stdout", "o4")
    rb.append("stderr", "e5")
    expect(readAll(rb, 0, "stdout")).toMatchObject({ nextLineNo: 5, more: false })
    expect(ns(readAll(rb, 0, "stdout").lines)).toEqual([1, 2, 4])
    expect(ns(readAll(rb, 0, "stderr").lines)).toEqual([3, 5])
    expect(readAll(rb, 5, "stdout")).toEqual({ lines: [], bytes: 0, nextLineNo: 5, dropped: 0, more: false })
    // Nothing of stderr after 3 but stdout at 4 and 5: cursor still moves to the end.
    rb.append("stdout", "o6")
    expect(readAll(rb, 5, "stderr")).toEqual({ lines: [], bytes: 0, nextLineNo: 6, dropped: 0, more: false })
    // A cursor ahead of the buffer stays put.
    expect(readAll(rb, 42, "both")).toEqual({ lines: [], bytes: 0, nextLineNo: 42, dropped: 0, more: false })
  })

  it("stops at the caps with more = true and the last returned n as cursor", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 1000 })
    for (let i = 1; i <= 10; i++) rb.append(i % 2 === 0 ? "stderr" : "stdout", `line-${i}`) // 6-7 bytes each
    const byLines = read(rb, { since: 0, stream: "both", maxLines: 4, maxBytes: BIG })
    expect(ns(byLines.lines)).toEqual([1, 2, 3, 4])
    expect(byLines).toMatchObject({ nextLineNo: 4, more: true, dropped: 0 })
    const next = read(rb, { since: byLines.nextLineNo, stream: "both", maxLines: 4, maxBytes: BIG })
    expect(ns(next.lines)).toEqual([5, 6, 7, 8])
    const byBytes = read(rb, { since: 0, stream: "stdout", maxLines: 100, maxBytes: 20 })
    expect(ns(byBytes.lines)).toEqual([1, 3, 5])
    expect(byBytes).toMatchObject({ nextLineNo: 5, more: true })
    const rest = read(rb, { since: 5, stream: "stdout", maxLines: 100, maxBytes: 20 })
    expect(ns(rest.lines)).toEqual([7, 9])
    expect(rest).toMatchObject({ nextLineNo: 10, more: false })
    // Exactly at the cap: no more.
    expect(read(rb, { since: 8, stream: "both", maxLines: 2, maxBytes: BIG })).toMatchObject({ nextLineNo: 10, more: false })
  })

  it("returns at least one line even if it alone exceeds maxBytes", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 1000 })
    rb.append("stdout", "a long line of text")
    rb.append("stdout", "x")
    const r = read(rb, { since: 0, stream: "both", maxLines: 10, maxBytes: 1 })
    expect(r.lines.map((l) => l.text)).toEqual(["a long line of text"])
    expect(r).toMatchObject({ nextLineNo: 1, more: true })
    expect(read(rb, { since: 1, stream: "both", maxLines: 10, maxBytes: 1 })).toMatchObject({ lines: [{ text: "x" }], more: false, nextLineNo: 2 })
  })

  it("returns no lines for maxLines 0 without moving the cursor past them", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 1000 })
    rb.append("stdout", "a")
    expect(read(rb, { since: 0, stream: "both", maxLines: 0, maxBytes: BIG })).toEqual({ lines: [], bytes: 0, nextLineNo: 0, dropped: 0, more: true })
  })

  it("wraps and grows its circular storage correctly", () => {
    const model = new Model(1000, BIG)
    const rb = new RingBuffer({ maxLines: 1000, maxBytes: BIG })
    for (let i = 1; i <= 3500; i++) {
      const stream = i % 7 === 0 ? "stderr" : "stdout"
      rb.append(stream, `l${i}`)
      model.append(stream, `l${i}`)
      if (i % 250 === 0) {
        for (const s of ["both", "stdout", "stderr"] as const) {
          expect(read(rb, { since: i - 1200, stream: s, maxLines: BIG, maxBytes: BIG })).toEqual(model.read(i - 1200, s, BIG, BIG))
        }
      }
    }
  })

  it("returns runs of long lines whole across the buffer's end, ASCII or not", () => {
    // Lines of 13+ characters come back as slices of one decoded run (when ASCII): every
    // read below is compared with the model, in runs that cross the circular buffer's end.
    const random = rng(3)
    const model = new Model(300, 20_000)
    const rb = new RingBuffer({ maxLines: 300, maxBytes: 20_000 })
    for (let i = 1; i <= 6000; i++) {
      const stream: StreamName = random() < 0.15 ? "stderr" : "stdout"
      const text = `line ${i} ${"abcdefghij".repeat(Math.floor(random() * 12))}${random() < 0.02 ? "é€𝄞" : ""}`
      rb.append(stream, text)
      model.append(stream, text)
      if (i % 97 === 0) {
        for (const s of ["both", "stdout", "stderr"] as const) {
          expect(read(rb, { since: i - 400, stream: s, maxLines: BIG, maxBytes: BIG }), `${i} ${s}`).toEqual(model.read(i - 400, s, BIG, BIG))
          expect(read(rb, { since: i - 250, stream: s, maxLines: 60, maxBytes: 3000 }), `${i} ${s} capped`).toEqual(model.read(i - 250, s, 60, 3000))
        }
      }
    }
  })

  it("gives the lines' texts joined when they are ASCII runs, and not otherwise", () => {
    const rb = new RingBuffer({ maxLines: 100, maxBytes: 1 << 20 })
    for (const [stream, text] of [["stdout", "a first line of text"], ["stdout", ""], ["stderr", "an error line here"], ["stdout", "x"]] as const) {
      rb.append(stream, text)
    }
    expect(rb.read({ since: 0, stream: "both", maxLines: BIG, maxBytes: BIG }).text).toBe("a first line of text\n\nan error line here\nx")
    expect(rb.read({ since: 0, stream: "stdout", maxLines: BIG, maxBytes: BIG }).text).toBe("a first line of text\n\nx")
    expect(rb.read({ since: 4, stream: "both", maxLines: BIG, maxBytes: BIG }).text).toBe("")
    rb.append("stdout", "café")
    expect(rb.read({ since: 0, stream: "both", maxLines: BIG, maxBytes: BIG }).text).toBeUndefined()
    expect(rb.read({ since: 0, stream: "both", maxLines: 4, maxBytes: BIG }).text).toBe("a first line of text\n\nan error line here\nx")
  })

  it("matches the model exactly for interleaved streams (every cursor, stream and cap)", () => {
    const random = rng(7)
    const model = new Model(40, 300)
    const rb = new RingBuffer({ maxLines: 40, maxBytes: 300 })
    let stream: StreamName = "stdout"
    for (let i = 1; i <= 3000; i++) {
      // bursts of one stream, then a switch
      if (random() < 0.3) stream = stream === "stdout" ? "stderr" : "stdout"
      const text = "x".repeat(Math.floor(random() * 12)) + (random() < 0.1 ? "€" : "")
      rb.append(stream, text)
      model.append(stream, text)
    }
    expect(rb.counts()).toEqual({
      stdout: model.all.filter((l) => l.stream === "stdout").length,
      stderr: model.all.filter((l) => l.stream === "stderr").length,
      total: 3000,
      dropped: {
        stdout: model.all.filter((l) => l.stream === "stdout" && l.evicted).length,
        stderr: model.all.filter((l) => l.stream === "stderr" && l.evicted).length
      }
    })
    for (let since = 0; since <= 3001; since++) {
      for (const s of ["both", "stdout", "stderr"] as const) {
        expect(read(rb, { since, stream: s, maxLines: BIG, maxBytes: BIG }), `since ${since} ${s}`).toEqual(model.read(since, s, BIG, BIG))
        expect(read(rb, { since, stream: s, maxLines: 5, maxBytes: 40 }), `since ${since} ${s} capped`).toEqual(model.read(since, s, 5, 40))
      }
    }
  })

  it("keeps dropped exact past heavy interleaving and its bookkeeping bounded", () => {
    const random = rng(11)
    const model = new Model(50, BIG)
    const rb = new RingBuffer({ maxLines: 50, maxBytes: BIG })
    const n = 200_000
    for (let i = 1; i <= n; i++) {
      const stream = random() < 0.5 ? "stdout" : "stderr" // ~100,000 switches
      rb.append(stream, "")
      model.append(stream, "")
    }
    // The run log stays bounded (exact part ≤ 2·maxLines + 2, compacted part ≤ 2·1024 + 1024 pending).
    const log = (rb as unknown as { log: { nAt: Array<number> } }).log
    expect(log.nAt.length).toBeLessThan(2 * 50 + 3 * 1024 + 4)
    const oldest = Math.min(...(["stdout", "stderr"] as const).map((s) => readAll(rb, 0, s).lines[0]!.n))
    // evictedAfter[s][since] = evicted lines of s with n > since, by suffix sums over the model.
    const evictedAfter = { stdout: new Array<number>(n + 2).fill(0), stderr: new Array<number>(n + 2).fill(0) }
    for (let k = n; k >= 0; k--) {
      for (const s of ["stdout", "stderr"] as const) {
        const line = model.all[k] // n = k + 1
        evictedAfter[s][k] = evictedAfter[s][k + 1]! + (line !== undefined && line.stream === s && line.evicted ? 1 : 0)
      }
    }
    let approximated = 0
    for (let since = 0; since <= n; since += since < oldest - 200 ? 97 : 1) {
      const want = {
        stdout: evictedAfter.stdout[since]!,
        stderr: evictedAfter.stderr[since]!,
        both: evictedAfter.stdout[since]! + evictedAfter.stderr[since]!
      }
      for (const s of ["both", "stdout", "stderr"] as const) {
        const got = read(rb, { since, stream: s, maxLines: BIG, maxBytes: BIG }).dropped
        if (s === "both" || since >= oldest - 1 || since === 0) {
          expect(got, `since ${since} ${s}`).toBe(want[s])
        } else {
          // Within the compacted history of a heavily interleaved job: interpolated, close.
          if (got !== want[s]) approximated++
          expect(Math.abs(got - want[s])).toBeLessThanOrEqual(200)
        }
      }
    }
    for (let since = oldest - 200; since <= n; since += 13) {
      for (const s of ["both", "stdout", "stderr"] as const) {
        const want = model.read(since, s, BIG, BIG)
        expect(read(rb, { since, stream: s, maxLines: BIG, maxBytes: BIG })).toEqual(want)
      }
    }
    expect(approximated).toBeGreaterThan(0) // the approximation really was exercised
  })

  it("appends 1,000,000 lines quickly with bounded retention", () => {
    const rb = new RingBuffer({ maxLines: 10000, maxBytes: 8 * 1024 * 1024 })
    for (let i = 1; i <= 1_000_000; i++) rb.append(i % 3 === 0 ? "stderr" : "stdout", `line ${i}`)
    const c = rb.counts()
    expect(c.total).toBe(1_000_000)
    expect(c.dropped.stdout).toBe(c.stdout - 10000)
    expect(c.dropped.stderr).toBe(c.stderr - 10000)
    expect(readAll(rb, 0, "stdout").lines).toHaveLength(10000)
    expect(readAll(rb, 0).lines).toHaveLength(20000)
  })
})
