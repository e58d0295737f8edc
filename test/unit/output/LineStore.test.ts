/**
 * The byte-level output pipeline (LineDecoder → RingBuffer, as a job runs it) against
 * simple reference models: a decoder working one character at a time on the decoded
 * stream, and a ring that keeps every line ever with an evicted flag.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Job } from "../../../src/jobs/Job.js"
import { LineDecoder, truncationMarker } from "../../../src/output/LineDecoder.js"
import type { StreamName } from "../../../src/domain/jobs.js"
import { type Line, type ReadOptions, RingBuffer } from "../../../src/output/RingBuffer.js"

/** A read, its `text` (when given) checked against its lines and left out, so it compares with a model's. */
const read = (rb: RingBuffer, options: ReadOptions) => {
  const { text, ...rest } = rb.read(options)
  if (text !== undefined) expect(text).toBe(rest.lines.map((l) => l.text).join("\n"))
  return rest
}

const BIG = Number.MAX_SAFE_INTEGER

/** A tiny deterministic PRNG (mulberry32). */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** The decoder's contract, one UTF-16 unit at a time over the whole decoded input; `complete`: only \n-ended lines. */
const referenceLines = (input: Uint8Array, maxLineBytes: number, complete: boolean): Array<string> => {
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(input)
  const finish = (s: string): string => {
    const total = Buffer.byteLength(s)
    if (total <= maxLineBytes) return s
    let head = ""
    let kept = 0
    for (const ch of s) {
      const b = Buffer.byteLength(ch)
      if (kept + b > maxLineBytes) break
      head += ch
      kept += b
    }
    return head + truncationMarker(total - kept)
  }
  const out: Array<string> = []
  let cur = ""
  let pendingCR = false
  for (const ch of text.split("")) {
    if (pendingCR) {
      pendingCR = false
      if (ch === "\n") {
        out.push(finish(cur))
        cur = ""
        continue
      }
      cur = ""
    }
    if (ch === "\n") {
      out.push(finish(cur))
      cur = ""
    } else if (ch === "\r") pendingCR = true
    else cur += ch
  }
  if (!complete && cur !== "") out.push(finish(cur))
  return out
}

/** Lines completed by the bytes so far: those before the last \n are settled whatever comes next. */
const completedLines = (bytes: Uint8Array, maxLineBytes: number): Array<string> => {
  const lastLF = bytes.lastIndexOf(10)
  return lastLF < 0 ? [] : referenceLines(bytes.subarray(0, lastLF + 1), maxLineBytes, true)
}

/** The ring's contract, kept naively: every line ever, each flagged evicted or not. */
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

  counts() {
    const of = (s: StreamName) => this.all.filter((l) => l.stream === s)
    return {
      stdout: of("stdout").length,
      stderr: of("stderr").length,
      total: this.all.length,
      dropped: { stdout: of("stdout").filter((l) => l.evicted).length, stderr: of("stderr").filter((l) => l.evicted).length }
    }
  }
}

const bytes = (s: string) => Buffer.from(s, "utf8")

/** Random output: short and over-long lines, \r, \r\n, multibyte characters, invalid bytes. */
const randomOutput = (random: () => number, maxLineBytes: number): Buffer => {
  const pieces: Array<Uint8Array> = ["a", "bc", "é", "€", "𝄞", "\n", "\n", "\n", "\r", "\r\n", " ", "xyz", "line of text"].map(bytes)
  pieces.push(Uint8Array.of(0xff), Uint8Array.of(0x80), Uint8Array.of(0xe2, 0x82), Uint8Array.of(0xf0, 0x9f, 0x98))
  const parts: Array<Uint8Array> = []
  const count = 1 + Math.floor(random() * 120)
  for (let i = 0; i < count; i++) {
    const r = random()
    if (r < 0.05) parts.push(bytes("é".repeat(Math.floor(random() * 2 * maxLineBytes))))
    else if (r < 0.1) parts.push(bytes("y".repeat(Math.floor(random() * 3 * maxLineBytes))))
    else parts.push(pieces[Math.floor(random() * pieces.length)]!)
  }
  return Buffer.concat(parts)
}

/** `input` cut at random places (1..maxChunk bytes). */
const chunksOf = (random: () => number, input: Buffer, maxChunk: number): Array<Buffer> => {
  const out: Array<Buffer> = []
  for (let i = 0; i < input.length;) {
    const size = 1 + Math.floor(random() * maxChunk)
    out.push(input.subarray(i, i + size))
    i += size
  }
  return out
}

describe("output pipeline (LineDecoder → RingBuffer) against reference models", () => {
  it("matches the models on random interleaved output of both streams, with eviction by lines and by bytes", () => {
    const random = rng(2026)
    for (let round = 0; round < 300; round++) {
      const maxLineBytes = 1 + Math.floor(random() * 24)
      const maxLines = 1 + Math.floor(random() * 25)
      const maxBytes = Math.floor(random() * 160)
      const rb = new RingBuffer({ maxLines, maxBytes })
      const model = new Model(maxLines, maxBytes)
      const decoders = { stdout: new LineDecoder({ maxLineBytes }), stderr: new LineDecoder({ maxLineBytes }) }
      const sink = (stream: StreamName) => (src: Buffer, from: number, ends: Int32Array, count: number) =>
        rb.appendLines(stream, src, from, ends, count)
      const sinks = { stdout: sink("stdout"), stderr: sink("stderr") }
      const input = { stdout: randomOutput(random, maxLineBytes), stderr: randomOutput(random, maxLineBytes) }
      const maxChunk = random() < 0.5 ? 4 : 64
      const chunks = { stdout: chunksOf(random, input.stdout, maxChunk), stderr: chunksOf(random, input.stderr, maxChunk) }
      const fed = { stdout: 0, stderr: 0 }
      const emitted = { stdout: 0, stderr: 0 }
      const check = (label: string) => {
        expect(rb.counts(), `${label} counts`).toEqual(model.counts())
        expect(rb.lastLineNo).toBe(model.all.length)
        for (let k = 0; k < 6; k++) {
          const since = Math.floor(random() * (model.all.length + 2))
          const stream = (["both", "stdout", "stderr"] as const)[Math.floor(random() * 3)]!
          const lines = random() < 0.3 ? BIG : Math.floor(random() * 8)
          const capBytes = random() < 0.3 ? BIG : Math.floor(random() * 60)
          expect(read(rb, { since, stream, maxLines: lines, maxBytes: capBytes }), `${label} read ${since} ${stream} ${lines} ${capBytes}`)
            .toEqual(model.read(since, stream, lines, capBytes))
        }
      }
      const i = { stdout: 0, stderr: 0 }
      while (i.stdout < chunks.stdout.length || i.stderr < chunks.stderr.length) {
        const stream: StreamName = i.stderr >= chunks.stderr.length || (i.stdout < chunks.stdout.length && random() < 0.5) ? "stdout" : "stderr"
        const chunk = chunks[stream][i[stream]++]!
        decoders[stream].feed(chunk, sinks[stream])
        fed[stream] += chunk.length
        const expected = completedLines(input[stream].subarray(0, fed[stream]), maxLineBytes)
        for (const text of expected.slice(emitted[stream])) model.append(stream, text)
        emitted[stream] = expected.length
        if (random() < 0.2) check(`round ${round} mid-stream`)
      }
      for (const stream of ["stdout", "stderr"] as const) {
        decoders[stream].finish(sinks[stream])
        const expected = referenceLines(input[stream], maxLineBytes, false)
        for (const text of expected.slice(emitted[stream])) model.append(stream, text)
      }
      check(`round ${round} end`)
      for (let since = 0; since <= model.all.length; since++) {
        for (const s of ["both", "stdout", "stderr"] as const) {
          expect(read(rb, { since, stream: s, maxLines: BIG, maxBytes: BIG }), `round ${round} since ${since} ${s}`).toEqual(model.read(since, s, BIG, BIG))
        }
      }
    }
  })

  it("passes a chunk's lines through in runs of up to 2048 lines and keeps them exactly", () => {
    const rb = new RingBuffer({ maxLines: 1000, maxBytes: 1 << 20 })
    const d = new LineDecoder({ maxLineBytes: 100 })
    let calls = 0
    const input = Buffer.from(Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join(""))
    d.feed(input, (src, from, ends, count) => {
      calls++
      rb.appendLines("stdout", src, from, ends, count)
    })
    expect(calls).toBe(3) // 2048 + 2048 + 904: the decoder's line-end buffer stays small
    const r = read(rb, { since: 0, stream: "both", maxLines: BIG, maxBytes: BIG })
    expect(r.lines.map((l) => l.text)).toEqual(Array.from({ length: 1000 }, (_, i) => String(4001 + i)))
    expect(r).toMatchObject({ dropped: 4000, nextLineNo: 5000, more: false })
    expect(rb.newest()).toEqual({ n: 5000, stream: "stdout", text: "5000" })
  })

  it("keeps a job's store within its line and byte bounds whatever it prints", () => {
    const maxLines = 500
    const maxBytes = 64 * 1024
    const maxLineBytes = 4096
    const job = new Job({
      id: "job-bound", host: "h", command: "c", label: null, pty: false, persistent: false,
      ringBufferLines: maxLines, ringBufferBytes: maxBytes, maxLineBytes
    })
    // Per stream: the line records, and the byte buffer (at most twice the most it must hold at once).
    const marker = Buffer.byteLength(truncationMarker(Number.MAX_SAFE_INTEGER))
    const live = Math.max(maxBytes, maxLineBytes + marker) + maxLines
    const bound = 2 * (16 * maxLines + Math.max(4096, 2 * live))
    const random = rng(99)
    let peak = 0
    const shapes: Array<() => Buffer> = [
      () => Buffer.from(Array.from({ length: 2000 }, (_, i) => `${i}\n`).join("")), // many tiny lines
      () => Buffer.alloc(32 * 1024, "x"), // a line that never ends
      () => Buffer.from(`${"z".repeat(Math.floor(random() * 3 * maxLineBytes))}\n`), // over-long lines
      () => Buffer.from(Array.from({ length: 500 }, (_, i) => `${i}% [${"#".repeat(i % 60)}]\r`).join("")), // progress redraws
      () => Buffer.from(`${"€".repeat(Math.floor(random() * 2000))}\r\n`), // multibyte lines, \r\n
      () => Buffer.from("\n".repeat(3000)) // empty lines
    ]
    for (let i = 0; i < 3000; i++) {
      job.ingest(random() < 0.7 ? "stdout" : "stderr", shapes[Math.floor(random() * shapes.length)]!())
      peak = Math.max(peak, job.ring.retainedBytes)
      expect(job.ring.retainedBytes).toBeLessThanOrEqual(bound)
    }
    const c = job.ring.counts()
    expect(c.total).toBeGreaterThan(100 * maxLines) // it really evicted, many times over
    for (const stream of ["stdout", "stderr"] as const) {
      const kept = job.ring.read({ since: 0, stream, maxLines: BIG, maxBytes: BIG }).lines
      expect(kept.length).toBeLessThanOrEqual(maxLines)
      const text = kept.reduce((s, l) => s + Buffer.byteLength(l.text), 0)
      // Within the byte bound, unless the newest line alone is over it.
      expect(kept.length === 1 || text <= maxBytes).toBe(true)
    }
    expect(peak).toBeGreaterThan(maxBytes) // the bound was approached, not trivially met
    job.finish({ exitStatus: 0, signal: null })
  })

  it("masks secrets in lines and in the partial line on the byte path, across runs and chunks", () => {
    const job = new Job({
      id: "job-mask", host: "h", command: "c", label: null, pty: false, persistent: false,
      ringBufferLines: 100, ringBufferBytes: 1 << 20, maxLineBytes: 1024
    })
    job.ingest("stdout", Buffer.from("before s3cr€t\n"))
    job.addMask("s3cr€t\n")
    const secret = Buffer.from("x s3cr€t y\nplain\npass: s3cr€t")
    job.ingest("stdout", secret.subarray(0, 5)) // cut inside the €
    job.ingest("stdout", secret.subarray(5))
    expect(job.partial).toBe("pass: ********")
    job.ingest("stderr", Buffer.from("s3cr€ts3cr€t\n"))
    job.finish({ exitStatus: 0, signal: null })
    const lines = job.ring.read({ since: 0, stream: "both", maxLines: 100, maxBytes: BIG }).lines
    expect(lines.map((l) => `${l.stream}:${l.text}`)).toEqual([
      "stdout:before s3cr€t", // printed before the secret was sent
      "stdout:x ******** y",
      "stdout:plain",
      "stderr:****************",
      "stdout:pass: ********"
    ])
    expect(job.lastLine).toEqual({ n: 5, stream: "stdout", text: "pass: ********" })
  })

  it("mirrors to the log what it stores: stderr prefixed, secrets masked, lines in order", async () => {
    const job = new Job({
      id: "job-log", host: "h", command: "c", label: null, pty: false, persistent: false,
      ringBufferLines: 100, ringBufferBytes: 1 << 20, maxLineBytes: 8
    })
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "job-mirror-")), "job.log")
    job.ingest("stdout", Buffer.from("early\n"))
    job.attachLog(fs.createWriteStream(file))
    job.ingest("stdout", Buffer.from("one\ntw"))
    job.ingest("stderr", Buffer.from("err 1\r\nerr 2\n"))
    job.ingest("stdout", Buffer.from("o\nlong line here\n"))
    job.addMask("pw")
    job.ingest("stderr", Buffer.from("a pw b\n"))
    job.ingest("stdout", Buffer.from("last pw"))
    job.finish({ exitStatus: 0, signal: null })
    await job.closeLog()
    expect(fs.readFileSync(file, "utf8")).toBe([
      "early", "one", "[stderr] err 1", "[stderr] err 2", "two", `long lin${truncationMarker(6)}`,
      "[stderr] a ******** b", "last ********", ""
    ].join("\n"))
  })
})
