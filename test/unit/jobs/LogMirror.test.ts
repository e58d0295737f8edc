import { describe, expect, it } from "vitest"
import { FLUSH_BYTES, FLUSH_MS, type LogFile, LogMirror, PRE_ATTACH_LIMIT } from "../../../src/jobs/LogMirror.js"
import type { Line } from "../../../src/output/RingBuffer.js"

/** A log file that records each write; `backlog` stands for text the disk has not taken yet. */
const fakeLog = () => {
  const writes: Array<string> = []
  let ended = false
  const log: LogFile & { backlog: number } = {
    backlog: 0,
    write: (text) => (writes.push(typeof text === "string" ? text : Buffer.from(text).toString("utf8")), true),
    end: (done) => ((ended = true), done()),
    get writableLength() {
      return log.backlog
    },
    get closed() {
      return ended
    }
  }
  return { log, writes, text: () => writes.join(""), ended: () => ended }
}

/** Feeds `text` (whole lines) as the decoder would: one run, ends after each `\n`. */
const add = (mirror: LogMirror, stream: "stdout" | "stderr", text: string) => {
  const src = Buffer.from(text)
  const ends: Array<number> = []
  for (let i = 0; i < src.length; i++) if (src[i] === 10) ends.push(i + 1)
  mirror.addLines(stream, src, 0, ends, ends.length)
  mirror.flush()
}

const noBackfill = (): ReadonlyArray<Line> => []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("LogMirror", () => {
  it("keeps the lines printed before the log was attached, and writes them first", async () => {
    const mirror = new LogMirror({ pending: true })
    add(mirror, "stdout", "one\ntwo\n")
    add(mirror, "stderr", "oops\n")
    const f = fakeLog()
    mirror.attach(f.log, () => [{ n: 99, stream: "stdout", text: "from the ring" }])
    add(mirror, "stdout", "three\n")
    await mirror.close()
    expect(f.text()).toBe("one\ntwo\n[stderr] oops\nthree\n")
    expect(f.ended()).toBe(true)
  })

  it("takes nothing when no log will be attached, and starts from the backfill when attached late", async () => {
    const mirror = new LogMirror({ pending: false })
    expect(mirror.active).toBe(false)
    const f = fakeLog()
    mirror.attach(f.log, () => [{ n: 1, stream: "stdout", text: "a" }, { n: 2, stream: "stderr", text: "b" }])
    expect(mirror.active).toBe(true)
    add(mirror, "stdout", "c\n")
    await mirror.close()
    expect(f.text()).toBe("a\n[stderr] b\nc\n")
  })

  it("stops collecting past PRE_ATTACH_LIMIT and falls back to the backfill", async () => {
    const mirror = new LogMirror({ pending: true })
    const line = `${"x".repeat(1023)}\n`
    for (let i = 0; i <= PRE_ATTACH_LIMIT / line.length; i++) add(mirror, "stdout", line)
    expect(mirror.active).toBe(false)
    const f = fakeLog()
    expect(mirror.whole).toBe(false)
    mirror.attach(f.log, () => [{ n: 7, stream: "stdout", text: "kept by the ring" }])
    await mirror.close()
    expect(f.text()).toBe("kept by the ring\n")
  })

  it("says whether the log has every line since the job started (what an exec's reply tells)", () => {
    const collecting = new LogMirror({ pending: true })
    add(collecting, "stdout", "a\n")
    expect(collecting.whole).toBe(true)
    collecting.attach(fakeLog().log, noBackfill)
    expect(collecting.whole).toBe(true)
    // Attached late, from the ring's lines: not whole.
    const late = new LogMirror({ pending: false })
    late.attach(fakeLog().log, () => [{ n: 9, stream: "stdout", text: "ring" }])
    expect(late.whole).toBe(false)
  })

  it("batches small chunks into one write after FLUSH_MS", async () => {
    const mirror = new LogMirror({ pending: false })
    const f = fakeLog()
    mirror.attach(f.log, noBackfill)
    for (let i = 0; i < 100; i++) add(mirror, "stdout", `line ${i}\n`)
    expect(f.writes).toHaveLength(0)
    await sleep(FLUSH_MS * 3) // a later timer than the mirror's: it has fired by then
    expect(f.writes).toHaveLength(1)
    expect(f.writes[0]!.split("\n")).toHaveLength(101)
    await mirror.close()
  })

  it("writes at once when FLUSH_BYTES are pending", () => {
    const mirror = new LogMirror({ pending: false })
    const f = fakeLog()
    mirror.attach(f.log, noBackfill)
    add(mirror, "stdout", `${"y".repeat(FLUSH_BYTES)}\n`)
    expect(f.writes).toHaveLength(1)
    expect(f.writes[0]!.length).toBe(FLUSH_BYTES + 1)
  })

  it("close writes what is pending before ending the log", async () => {
    const mirror = new LogMirror({ pending: false })
    const f = fakeLog()
    mirror.attach(f.log, noBackfill)
    add(mirror, "stdout", "last\n")
    mirror.addLine("stderr", "masked ********")
    expect(f.writes).toHaveLength(0)
    await mirror.close()
    expect(f.text()).toBe("last\n[stderr] masked ********\n")
    expect(f.ended()).toBe(true)
  })

  it("counts lines instead of buffering them while the disk is behind, then says how many", async () => {
    const mirror = new LogMirror({ pending: false })
    const f = fakeLog()
    mirror.attach(f.log, noBackfill)
    f.log.backlog = 17 * 1024 * 1024
    add(mirror, "stdout", "lost 1\nlost 2\n")
    mirror.write()
    f.log.backlog = 0
    add(mirror, "stdout", "kept\n")
    await mirror.close()
    expect(f.text()).toBe("[mcp-ssh-live] 2 lines not mirrored: the log disk was too slow\nkept\n")
  })
})
