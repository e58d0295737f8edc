import { describe, expect, it } from "vitest"
import { initialTailState, readTail, type TailJobState } from "../../../src/jobs/readTail.js"
import { RingBuffer } from "../../../src/output/RingBuffer.js"

const ringWith = (...texts: Array<string>) => {
  const ring = new RingBuffer({ maxLines: 100, maxBytes: 1 << 20 })
  for (const t of texts) ring.append(t.startsWith("E:") ? "stderr" : "stdout", t)
  return ring
}
const request = { since: 0, maxLines: 100, maxBytes: 1 << 20, stream: "both" as const }
const running: TailJobState = { running: true, awaitingInput: false, wasAwaiting: false, remainingMs: 1_000 }
const texts = (s: { readonly lines: ReadonlyArray<{ readonly text: string }> }) => s.lines.map((l) => l.text)

describe("readTail (one step)", () => {
  it("waits with nothing new, returns with one line by default", () => {
    const ring = ringWith()
    expect(readTail(ring, request, initialTailState(0), running).done).toBe(false)
    ring.append("stdout", "a")
    const step = readTail(ring, request, initialTailState(0), running)
    expect(step.done).toBe(true)
    expect(texts(step.state)).toEqual(["a"])
    expect(step.state.since).toBe(1)
  })

  it("accumulates across steps until min_lines", () => {
    const ring = ringWith("a", "b")
    const first = readTail(ring, { ...request, minLines: 3 }, initialTailState(0), running)
    expect(first.done).toBe(false)
    expect(first.state.since).toBe(2)
    ring.append("stdout", "c")
    const second = readTail(ring, { ...request, minLines: 3 }, first.state, running)
    expect(second.done).toBe(true)
    expect(texts(second.state)).toEqual(["a", "b", "c"])
  })

  it("stops at the first until match, the cursor on it, more set when lines follow", () => {
    const ring = ringWith("x", "ready", "y")
    const step = readTail(ring, { ...request, until: { test: (t) => t === "ready" } }, initialTailState(0), running)
    expect(step.done).toBe(true)
    expect(step.state.matched?.text).toBe("ready")
    expect(step.state.since).toBe(2)
    expect(step.state.more).toBe(true)
    // What is collected ends at the match, its bytes too (the lines after it are not taken).
    expect(texts(step.state)).toEqual(["x", "ready"])
    expect(step.state.bytes).toBe(6)
    // The same past lines collected by an earlier step.
    const ring2 = ringWith("é")
    const first = readTail(ring2, { ...request, minLines: 5, until: { test: (t) => t === "ready" } }, initialTailState(0), running)
    for (const t of ["x", "ready", "yy"]) ring2.append("stdout", t)
    const second = readTail(ring2, { ...request, until: { test: (t) => t === "ready" } }, first.state, running)
    expect(texts(second.state)).toEqual(["é", "x", "ready"])
    expect(second.state.bytes).toBe(8)
  })

  it("with until and no match, waits however many lines came (no min_lines)", () => {
    const ring = ringWith("x", "y", "z")
    expect(readTail(ring, { ...request, until: { test: () => false } }, initialTailState(0), running).done).toBe(false)
  })

  it("returns when full (max_lines), when the job ended, and when time is up", () => {
    const ring = ringWith("a", "b", "c")
    const full = readTail(ring, { ...request, maxLines: 2, minLines: 10 }, initialTailState(0), running)
    expect(full.done).toBe(true)
    expect(full.state.more).toBe(true)
    const empty = ringWith()
    expect(readTail(empty, request, initialTailState(0), { ...running, running: false }).done).toBe(true)
    expect(readTail(empty, request, initialTailState(0), { ...running, remainingMs: 0 }).done).toBe(true)
  })

  it("returns on a new prompt, but not on one the agent already saw unless lines came", () => {
    const empty = ringWith()
    const prompt = { ...running, awaitingInput: true }
    expect(readTail(empty, request, initialTailState(0), prompt).done).toBe(true)
    expect(readTail(empty, { ...request, minLines: 5 }, initialTailState(0), { ...prompt, wasAwaiting: true }).done).toBe(false)
    expect(readTail(ringWith("a"), { ...request, minLines: 5 }, initialTailState(0), { ...prompt, wasAwaiting: true }).done).toBe(true)
  })

  it("reads only the requested stream, and counts dropped lines", () => {
    const ring = new RingBuffer({ maxLines: 2, maxBytes: 1 << 20 })
    for (const t of ["a", "b", "c"]) ring.append("stdout", t)
    ring.append("stderr", "E")
    const step = readTail(ring, { ...request, stream: "stdout", minLines: 2 }, initialTailState(0), running)
    expect(texts(step.state)).toEqual(["b", "c"])
    expect(step.state.dropped).toBe(1)
  })

  it("counts max_bytes in UTF-8 bytes across steps, as the store does (multibyte output does not overshoot)", () => {
    const ring = ringWith("ééééé") // 5 characters, 10 bytes
    const req = { ...request, maxBytes: 25, minLines: 10 }
    const first = readTail(ring, req, initialTailState(0), running)
    expect(first.done).toBe(false)
    expect(first.state.bytes).toBe(10)
    for (let i = 0; i < 3; i++) ring.append("stdout", "ééééé")
    const second = readTail(ring, req, first.state, running)
    expect(second.done).toBe(true)
    expect(second.state.more).toBe(true)
    const bytes = second.state.lines.reduce((n, l) => n + Buffer.byteLength(l.text), 0)
    expect(bytes).toBeLessThanOrEqual(25)
    expect(texts(second.state)).toEqual(["ééééé", "ééééé"])
  })
})

describe("RingBuffer.sinceForLast (ssh_tail's last)", () => {
  it("is the cursor before the newest lines of a stream, or of the job", () => {
    const ring = ringWith("a", "E:1", "b", "c", "E:2")
    expect(ring.sinceForLast("both", 2)).toBe(3)
    expect(ring.sinceForLast("both", 0)).toBe(5)
    expect(ring.sinceForLast("both", 99)).toBe(0)
    expect(ring.sinceForLast("stdout", 2)).toBe(2)
    expect(ring.sinceForLast("stderr", 1)).toBe(4)
    expect(ring.sinceForLast("stdout", 0)).toBe(5)
    expect(ring.sinceForLast("stdout", 4)).toBe(0)
    const two = readTail(ring, { ...request, stream: "stdout" }, initialTailState(ring.sinceForLast("stdout", 2)), running)
    expect(texts(two.state)).toEqual(["b", "c"])
  })
})
