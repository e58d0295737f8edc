import { Arbitrary, Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { fastEncoder } from "../../../src/mcp/tools/fastEncode.js"
import { tools } from "../../../src/mcp/tools/index.js"

/** A small seeded PRNG (mulberry32): the randomized cases are the same on every run. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** What an encoder did: its value (compared with key order, via JSON) or its error message. */
const outcome = (encode: (u: never) => unknown, value: unknown) => {
  try {
    const r = encode(value as never)
    return { ok: true, value: r, json: JSON.stringify(r) }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

const odd: ReadonlyArray<unknown> = [
  undefined, null, 0, -0, 1.5, -7, NaN, Infinity, Number.MAX_SAFE_INTEGER + 2, "", "x", "stdout", "stderr", "running",
  true, false, [], [1], {}, { n: 1 }, new Date(0)
]

/**
 * A copy of `value` with random changes: a key dropped, an extra key, a value replaced by
 * one of `odd`, a key set to undefined, an array emptied or an element duplicated.
 */
const mutate = (value: unknown, rnd: () => number): unknown => {
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(rnd() * xs.length)]!
  if (Array.isArray(value)) {
    const out = value.map((v) => (rnd() < 0.3 ? mutate(v, rnd) : v))
    const r = rnd()
    if (r < 0.1) return []
    if (r < 0.2 && out.length > 0) out.push(out[0])
    if (r < 0.25) out.push(pick(odd))
    return out
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
    for (const k of Object.keys(out)) {
      const r = rnd()
      if (r < 0.05) delete out[k]
      else if (r < 0.1) out[k] = pick(odd)
      else if (r < 0.12) out[k] = undefined
      else if (r < 0.4) out[k] = mutate(out[k], rnd)
    }
    if (rnd() < 0.2) out[pick(["extra", "zz", "n", "text"])] = pick(odd)
    return out
  }
  return rnd() < 0.3 ? pick(odd) : value
}

const outputs = tools.map((t) => t.use((tool) => ({ name: tool.name, output: tool.output as Schema.Codec<unknown, unknown, never, never> })))

describe("fastEncoder", () => {
  it("takes the fast path for ssh_tail's and ssh_list_jobs's outputs", () => {
    for (const name of ["ssh_tail", "ssh_list_jobs"]) {
      expect(fastEncoder(outputs.find((o) => o.name === name)!.output).fast, name).toBe(true)
    }
  })

  it("encodes a tail of lines to the same value and key order as Schema.encodeSync, in new objects without extra keys", () => {
    const output = outputs.find((o) => o.name === "ssh_tail")!.output
    const lines = Array.from({ length: 1000 }, (_, i) => ({ text: `line ${i} "é" \\ ✓`, stream: i % 3 === 0 ? "stderr" : "stdout", n: i + 1, extra: i }))
    const value = {
      prompt: null, job_id: "j1", lines, next_line_no: 1000, dropped: 0, partial: "", more: false, matched: lines[5],
      status: "exited", exit_status: 0, signal: null, awaiting_input: false, ignored: true
    }
    const fast = outcome(fastEncoder(output).encode, value)
    const slow = outcome(Schema.encodeSync(output), value)
    expect(fast).toEqual(slow)
    expect(fast.json).toBe(slow.json)
    expect(fast.json).not.toContain("extra")
  })

  it("returns a value that already is its encoding as it is, and copies into Schema's key order otherwise", () => {
    const output = outputs.find((o) => o.name === "ssh_tail")!.output
    const { encode } = fastEncoder(output)
    const slowEncode = Schema.encodeSync(output)
    const base = {
      job_id: "j1", lines: [] as Array<Record<string, unknown>>, next_line_no: 3, dropped: 0, partial: "", more: false, matched: null,
      status: "running", exit_status: null, signal: null, awaiting_input: false, prompt: null
    }
    const inOrder = { ...base, lines: [{ n: 1, stream: "stdout", text: "a" }, { n: 2, stream: "stderr", text: "b" }] }
    expect(encode(inOrder)).toBe(inOrder)
    const reordered = { ...base, lines: [{ n: 1, stream: "stdout", text: "a" }, { text: "b", n: 2, stream: "stderr" }] }
    const fast = encode(reordered) as typeof reordered
    expect(fast.lines[0]).toBe(reordered.lines[0])
    expect(fast.lines[1]).not.toBe(reordered.lines[1])
    expect(JSON.stringify(fast)).toBe(JSON.stringify(slowEncode(reordered)))
    // The default form (its optional keys present, the per-line ones absent) is its encoding too.
    const text = {
      job_id: "j1", line_nos: "1-2", next_line_no: 2, dropped: 0, partial: "", more: false, matched_line_no: null,
      status: "running", exit_status: null, signal: null, awaiting_input: false, prompt: null, text: "a\nb"
    }
    expect(encode(text)).toBe(text)
    expect(JSON.stringify(encode({ ...text, note: "x" }))).toBe(JSON.stringify(slowEncode({ ...text, note: "x" })))
  })

  it("gives Schema.encodeSync's result or error on randomized valid and broken outputs of every tool", async () => {
    const rnd = prng(16)
    let compared = 0
    let failures = 0
    for (const { name, output } of outputs) {
      const { encode } = fastEncoder(output)
      const slowEncode = Schema.encodeSync(output)
      const valid = await Effect.runPromise(Arbitrary.sampleEffect(Arbitrary.schema(output), { count: 60, seed: `${name}-16`, size: 8 }))
      for (const v of valid) {
        for (const candidate of [v, mutate(v, rnd), mutate(v, rnd), mutate(mutate(v, rnd), rnd)]) {
          const fast = outcome(encode, candidate)
          const slow = outcome(slowEncode, candidate)
          expect(fast, `${name}: ${JSON.stringify(candidate)}`).toEqual(slow)
          if (fast.ok) expect(fast.json).toBe(slow.json)
          else failures++
          compared++
        }
      }
    }
    // Both sides were exercised: valid values and values Schema rejects.
    expect(compared).toBeGreaterThan(2000)
    expect(failures).toBeGreaterThan(100)
  })

  it("falls back to Schema.encodeSync for schemas outside its subset", () => {
    const withTransform = Schema.Struct({ size: Schema.NumberFromString, n: Schema.Int })
    const e = fastEncoder(withTransform)
    expect(e.fast).toBe(false)
    expect(e.encode({ size: 12, n: 1 })).toEqual({ size: "12", n: 1 })
    const twoStructs = Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ a: Schema.String, b: Schema.String })])
    expect(fastEncoder(twoStructs).fast).toBe(false)
  })
})
