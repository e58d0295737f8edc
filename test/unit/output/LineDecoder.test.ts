import { describe, expect, it, vi } from "vitest"
import { LineDecoder, type LineSink, truncationMarker } from "../../../src/output/LineDecoder.js"

const bytes = (s: string): Uint8Array => Buffer.from(s, "utf8")

/** Pushes every chunk, then ends the stream; returns all lines. */
const decode = (chunks: ReadonlyArray<string | Uint8Array>, maxLineBytes = 65536, simd = true): Array<string> => {
  const d = new LineDecoder({ maxLineBytes, simd })
  const out: Array<string> = []
  for (const c of chunks) for (const line of d.push(typeof c === "string" ? bytes(c) : c)) out.push(line)
  for (const line of d.end()) out.push(line)
  return out
}

/** Every way to cut `buf` in two. */
const splits = (buf: Uint8Array): Array<[Uint8Array, Uint8Array]> =>
  Array.from({ length: buf.length + 1 }, (_, i) => [buf.subarray(0, i), buf.subarray(i)])

/** The contract, one UTF-16 unit at a time over the whole decoded input. */
const reference = (input: Uint8Array, maxLineBytes: number): Array<string> => {
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
  if (cur !== "") out.push(finish(cur))
  return out
}

/** A tiny deterministic PRNG (mulberry32). */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Both scans of the common case: WebAssembly SIMD (Node 24 has it) and the JS word scan (the fallback). */
const scans = [["WebAssembly SIMD", true], ["JS word", false]] as const

/** Every sink call of a decode, as its line count and lines: both scans must hand over the same runs. */
const runs = (chunks: ReadonlyArray<Uint8Array>, maxLineBytes: number, simd: boolean): Array<string> => {
  const d = new LineDecoder({ maxLineBytes, simd })
  const out: Array<string> = []
  const sink: LineSink = (src, from, ends, count) => {
    out.push(`${count}: ${src.toString("latin1", from, ends[count - 1]!)}`)
  }
  for (const c of chunks) d.feed(Buffer.from(c.buffer, c.byteOffset, c.byteLength), sink)
  d.finish(sink)
  return out
}

describe("LineDecoder", () => {
  it("splits on \\n", () => {
    const d = new LineDecoder({ maxLineBytes: 100 })
    expect(d.push(bytes("a\nbb\n\nccc"))).toEqual(["a", "bb", ""])
    expect(d.partial).toBe("ccc")
    expect(d.push(bytes("c\nd"))).toEqual(["cccc"])
    expect(d.end()).toEqual(["d"])
    expect(d.partial).toBe("")
  })

  it("joins a line across many chunks", () => {
    expect(decode(["he", "l", "lo wo", "rld\nx", "y\n"])).toEqual(["hello world", "xy"])
  })

  it("treats \\r\\n as one terminator", () => {
    expect(decode(["a\r\nb\r\n\r\nc"])).toEqual(["a", "b", "", "c"])
  })

  it("treats \\r\\n split across chunks as one terminator", () => {
    const d = new LineDecoder({ maxLineBytes: 100 })
    expect(d.push(bytes("first\r"))).toEqual([])
    expect(d.partial).toBe("first")
    expect(d.push(bytes("\nsecond\r"))).toEqual(["first"])
    expect(d.push(bytes("\n"))).toEqual(["second"])
    expect(d.push(bytes("\r"))).toEqual([])
    expect(d.push(bytes("\n\r"))).toEqual([""])
    expect(d.push(bytes("\nlast"))).toEqual([""])
    expect(d.end()).toEqual(["last"])
  })

  it("lets a bare \\r restart the line (progress bars)", () => {
    expect(decode(["10%\r20%\r30%\n"])).toEqual(["30%"])
    expect(decode(["10%\r", "20%", "\r30%", "\n"])).toEqual(["30%"])
    expect(decode(["10%\r20%\r\n"])).toEqual(["20%"])
    expect(decode(["downloading 10%\rdone\nnext\n"])).toEqual(["done", "next"])
    expect(decode(["a\r\r\nb\n"])).toEqual(["", "b"])
    const d = new LineDecoder({ maxLineBytes: 100 })
    d.push(bytes("progress 10%\r"))
    expect(d.partial).toBe("progress 10%")
    d.push(bytes("progress 2"))
    expect(d.partial).toBe("progress 2")
  })

  it("handles a chunk that is mostly redrawn progress", () => {
    const redraws = Array.from({ length: 5000 }, (_, i) => `${i % 100}% [${"#".repeat(i % 40)}]\r`).join("")
    expect(decode([`${redraws}done in 12.5 seconds\nsummary: all fine\n${redraws}tail`])).toEqual([
      "done in 12.5 seconds",
      "summary: all fine",
      "tail"
    ])
  })

  it("keeps the last progress state when the stream ends on a bare \\r", () => {
    expect(decode(["10%\r100%\r"])).toEqual(["100%"])
    expect(decode(["done\n\r"])).toEqual(["done"])
  })

  it.each(["é", "€", "𝄞"])("decodes %s split at every byte position", (ch) => {
    const buf = bytes(`a${ch}b${ch}\n${ch}`)
    for (const [x, y] of splits(buf)) expect(decode([x, y])).toEqual([`a${ch}b${ch}`, ch])
    expect(decode(Array.from(buf, (b) => Uint8Array.of(b)))).toEqual([`a${ch}b${ch}`, ch])
  })

  it("turns invalid bytes into U+FFFD without throwing", () => {
    expect(decode([Uint8Array.of(0x61, 0xff, 0xfe, 0x62, 0x0a)])).toEqual(["a\uFFFD\uFFFDb"])
    expect(decode([Uint8Array.of(0x80, 0x0a, 0xc3, 0x28, 0x0a)])).toEqual(["\uFFFD", "\uFFFD("])
    // An incomplete character at the very end is flushed as U+FFFD.
    expect(decode([Uint8Array.of(0x61, 0xe2, 0x82)])).toEqual(["a\uFFFD"])
  })

  it("shows a prompt as the partial line", () => {
    const d = new LineDecoder({ maxLineBytes: 65536 })
    expect(d.push(bytes("Password: "))).toEqual([])
    expect(d.partial).toBe("Password: ")
    expect(d.end()).toEqual(["Password: "])
    expect(d.partial).toBe("")
    expect(d.end()).toEqual([])
  })

  it("end() flushes the partial line and clears it", () => {
    const d = new LineDecoder({ maxLineBytes: 100 })
    expect(d.push(bytes("one\ntwo"))).toEqual(["one"])
    expect(d.end()).toEqual(["two"])
    expect(d.end()).toEqual([])
    // usable again afterwards
    expect(d.push(bytes("three\n"))).toEqual(["three"])
  })

  it("cuts a line over maxLineBytes with the exact omitted count", () => {
    expect(decode(["abcdefghij\n"], 4)).toEqual([`abcd${truncationMarker(6)}`])
    expect(decode(["abcd\n"], 4)).toEqual(["abcd"])
    // Never splits a character: 3-byte "€" with a 10-byte cap keeps 3 of them (9 bytes).
    expect(decode(["€€€€€\n"], 10)).toEqual([`€€€${truncationMarker(6)}`])
    expect(decode(["𝄞𝄞\n"], 5)).toEqual([`𝄞${truncationMarker(4)}`])
    expect(decode(["𝄞𝄞\n"], 3)).toEqual([truncationMarker(8)])
    // Across chunks, and with a partial shown as the kept head.
    const d = new LineDecoder({ maxLineBytes: 5 })
    expect(d.push(bytes("abc"))).toEqual([])
    expect(d.push(bytes("defg"))).toEqual([])
    expect(d.partial).toBe("abcde")
    expect(d.push(bytes("hi\nok\n"))).toEqual([`abcde${truncationMarker(4)}`, "ok"])
    expect(d.push(bytes("12345678"))).toEqual([])
    expect(d.end()).toEqual([`12345${truncationMarker(3)}`])
  })

  it("a bare \\r ends a cut line's truncation too", () => {
    expect(decode(["abcdefgh\rxy\n"], 4)).toEqual(["xy"])
    expect(decode(["abcdefgh", "\rxy\n"], 4)).toEqual(["xy"])
  })

  it("keeps a 10 MB line without newline bounded, then reports it exactly", () => {
    const max = 65536
    const d = new LineDecoder({ maxLineBytes: max })
    const chunk = Buffer.alloc(64 * 1024, "é") // 2-byte characters, 32768 per chunk
    const total = 10 * 1024 * 1024
    for (let sent = 0; sent < total; sent += chunk.length) {
      expect(d.push(chunk)).toEqual([])
      expect(Buffer.byteLength(d.partial)).toBeLessThanOrEqual(max)
    }
    expect(d.partial).toBe("é".repeat(max / 2))
    const lines = d.push(bytes("\nnext\n"))
    expect(lines).toEqual(["é".repeat(max / 2) + truncationMarker(total - max), "next"])
    expect(lines[0]).toContain(`[line truncated: ${total - max} bytes omitted]`)
  })

  it("cuts a long line that arrives in a single chunk", () => {
    const line = "x".repeat(200_000)
    expect(decode([`${line}\nshort\n`], 65536)).toEqual(["x".repeat(65536) + truncationMarker(200_000 - 65536), "short"])
  })

  it.each(scans)("matches the reference model on random input cut at random places (%s scan)", (_, simd) => {
    const random = rng(42)
    const pieces: Array<Uint8Array> = ["a", "bc", "é", "€", "𝄞", "\n", "\n", "\r", "\r\n", " ", "xyz"].map(bytes)
    pieces.push(Uint8Array.of(0xff), Uint8Array.of(0x80), Uint8Array.of(0xe2, 0x82))
    for (let round = 0; round < 500; round++) {
      const parts: Array<Uint8Array> = []
      const count = 1 + Math.floor(random() * 60)
      for (let i = 0; i < count; i++) parts.push(pieces[Math.floor(random() * pieces.length)]!)
      const input = Buffer.concat(parts)
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < input.length;) {
        const size = 1 + Math.floor(random() * 8)
        chunks.push(input.subarray(i, i + size))
        i += size
      }
      const max = 1 + Math.floor(random() * 12)
      expect(decode(chunks, max, simd), `round ${round}`).toEqual(reference(input, max))
    }
  })

  it.each(scans)("matches the reference model with large chunks at every alignment and lines around the word scan's length (%s scan)", (_, simd) => {
    // The word-at-a-time scan of short lines: chunks of up to 2 KiB starting at any byte
    // offset of their buffer, lines of 0 to 600 bytes (the scan hands lines over 256 bytes
    // to the per-line search), \r and invalid UTF-8 now and then, caps below and above 256.
    const random = rng(7)
    const line = (): string => {
      const r = random()
      const n = r < 0.6 ? Math.floor(random() * 12) : r < 0.9 ? 240 + Math.floor(random() * 40) : Math.floor(random() * 600)
      return "0123456789abcdef".repeat(40).slice(0, n)
    }
    for (let round = 0; round < 300; round++) {
      const parts: Array<Uint8Array> = []
      for (let i = 0; i < 40; i++) {
        const r = random()
        parts.push(bytes(line() + (r < 0.03 ? "\r" : r < 0.06 ? "\r\n" : "\n")))
        if (r > 0.98) parts.push(Uint8Array.of(0xe2, 0x82))
      }
      const input = Buffer.concat(parts)
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < input.length;) {
        const size = 1 + Math.floor(random() * 2048)
        const shift = Math.floor(random() * 4)
        const copy = Buffer.alloc(size + shift)
        input.copy(copy, shift, i, i + size)
        chunks.push(copy.subarray(shift, shift + Math.min(size, input.length - i)))
        i += size
      }
      const max = [8, 100, 256, 257, 65536][round % 5]!
      expect(decode(chunks, max, simd), `round ${round}`).toEqual(reference(input, max))
    }
  })

  it("scans with WebAssembly SIMD where the engine has it, in JS when told not to", () => {
    // Node 24 has SIMD128 on: the SIMD tests below are not the fallback in disguise.
    expect(new LineDecoder({ maxLineBytes: 100 }).usesSimd).toBe(true)
    expect(new LineDecoder({ maxLineBytes: 100, simd: false }).usesSimd).toBe(false)
  })

  it.each([
    ["no WebAssembly", undefined],
    // The project's TS lib does not declare WebAssembly: the engine's object, its validate saying no.
    ["WebAssembly without SIMD", Object.create((globalThis as { readonly WebAssembly?: object }).WebAssembly ?? null, { validate: { value: () => false } })]
  ])("scans in JS where the engine has %s", async (_, wasm) => {
    vi.resetModules()
    vi.stubGlobal("WebAssembly", wasm)
    try {
      const fresh = await import("../../../src/output/LineDecoder.js")
      const d = new fresh.LineDecoder({ maxLineBytes: 100 })
      expect(d.usesSimd).toBe(false)
      expect(d.push(bytes("a\nbb\n\nccc"))).toEqual(["a", "bb", ""])
      expect(d.end()).toEqual(["ccc"])
    } finally {
      vi.unstubAllGlobals()
      vi.resetModules()
    }
  })

  it("hands the sink the same runs with both scans: chunks of every length and offset, runs of 2048 lines", () => {
    // Lines of 0 to 20 bytes (many per 16-byte step, some across it), now and then a
    // line over the 256-byte scan, a \r\n, a bare \r, invalid UTF-8; 6000 lines so the
    // runs fill (2048 ends) in the middle of the scan and at chunk ends.
    const random = rng(11)
    const parts: Array<string | Uint8Array> = []
    for (let i = 0; i < 6000; i++) {
      const r = random()
      parts.push("x".repeat(r < 0.01 ? 250 + Math.floor(random() * 20) : Math.floor(random() * 21)))
      parts.push(r > 0.995 ? "\r\n" : r > 0.99 ? "\r" : r > 0.985 ? Uint8Array.of(0xff, 0x0a) : "\n")
    }
    const input = Buffer.concat(parts.map((p) => (typeof p === "string" ? bytes(p) : p)))
    for (const size of [1, 7, 15, 16, 17, 31, 33, 100, 2047, 4096, 20_000, input.length]) {
      for (const shift of [0, 1, 5, 15]) {
        const chunks: Array<Uint8Array> = []
        for (let i = 0; i < input.length; i += size) {
          const n = Math.min(size, input.length - i)
          const copy = Buffer.alloc(n + shift)
          input.copy(copy, shift, i, i + n)
          chunks.push(copy.subarray(shift))
        }
        const simd = runs(chunks, 65536, true)
        expect(simd, `chunks of ${size} at +${shift}`).toEqual(runs(chunks, 65536, false))
        if (shift === 0) expect(decode(chunks, 65536, true)).toEqual(reference(input, 65536))
      }
    }
  })

  it.each(scans)("finds lines across the SIMD scan's window in chunks of megabytes (%s scan)", (_, simd) => {
    // The WebAssembly module holds ~112 KiB of a chunk at a time: lines straddle its windows.
    const random = rng(5)
    const lines = Array.from({ length: 150_000 }, () => "ab".repeat(Math.floor(random() * (random() < 0.02 ? 200 : 8))))
    const input = bytes(lines.join("\n") + "\n")
    expect(input.length).toBeGreaterThan(1_000_000)
    expect(decode([input], 256, simd)).toEqual(lines.map((l) => (Buffer.byteLength(l) > 256 ? l.slice(0, 256) + truncationMarker(l.length - 256) : l)))
    expect(decode([input, input], 65536, simd)).toEqual([...lines, ...lines])
  })

  it("keeps decoders apart that share the WebAssembly scanner, even when a sink feeds another decoder", () => {
    const a = new LineDecoder({ maxLineBytes: 100 })
    const b = new LineDecoder({ maxLineBytes: 100 })
    const fromA: Array<string> = []
    const fromB: Array<string> = []
    const sinkB: LineSink = (src, from, ends, count) => {
      let at = from
      for (let k = 0; k < count; k++) fromB.push(src.toString("utf8", at, (at = ends[k]!) - 1))
    }
    const lines = (tag: string, n: number): string => Array.from({ length: n }, (_, i) => `${tag}${i}\n`).join("")
    // Each run A hands over makes B scan a chunk of its own in the middle of A's scan.
    const sinkA: LineSink = (src, from, ends, count) => {
      let at = from
      for (let k = 0; k < count; k++) fromA.push(src.toString("utf8", at, (at = ends[k]!) - 1))
      b.feed(Buffer.from(lines("b", 3000)), sinkB)
    }
    a.feed(Buffer.from(lines("a", 5000)), sinkA)
    b.feed(Buffer.from("tail\n"), sinkB)
    expect(fromA).toEqual(lines("a", 5000).split("\n").slice(0, -1))
    expect(fromB).toEqual([...lines("b", 3000).repeat(3).split("\n").slice(0, -1), "tail"])
  })

  it("scans a reused Buffer's new content after a sink threw during its last scan", () => {
    // A reader that reuses one Buffer for every read: the WebAssembly copy of its old
    // content must not be taken for the new one.
    const buf = Buffer.from("one\ntwo\n")
    const d = new LineDecoder({ maxLineBytes: 100 })
    expect(() =>
      d.feed(buf, () => {
        throw new Error("sink failed")
      })
    ).toThrow("sink failed")
    buf.write("abcdefg\n")
    const lines: Array<string> = []
    new LineDecoder({ maxLineBytes: 100 }).feed(buf, (src, from, ends, count) => {
      for (let k = 0, at = from; k < count; k++) lines.push(src.toString("utf8", at, (at = ends[k]!) - 1))
    })
    expect(lines).toEqual(["abcdefg"])
  })

  it("decodes 1,000,000 short lines in large chunks", () => {
    const input = Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => `${i + 1}\n`).join(""))
    const d = new LineDecoder({ maxLineBytes: 65536 })
    let count = 0
    let last = ""
    for (let i = 0; i < input.length; i += 65536) {
      const lines = d.push(input.subarray(i, i + 65536))
      count += lines.length
      if (lines.length > 0) last = lines[lines.length - 1]!
    }
    expect(count).toBe(1_000_000)
    expect(last).toBe("1000000")
    expect(d.end()).toEqual([])
  })
})
