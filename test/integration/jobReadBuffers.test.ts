/**
 * A job's output read into reused socket buffers (src/ssh/receiveBuffers.ts, marked by
 * JobRunner), against a real sshd making new keys every 1 MiB: every sink of a job copies
 * what it keeps, so a buffer given back while one still viewed it (a partial line, a UTF-8
 * character cut by a read) would show as a wrong line. And `ssh_exec`, whose result keeps
 * the chunks themselves, reads into fresh buffers until its output is handed over.
 */
import { createHash } from "node:crypto"
import { Effect, Stream } from "effect"
import { expect, it } from "vitest"
import { type Connections, Exec, type HostRegistry, Jobs, layerConfig } from "../../src/index.js"
import { receiveBufferCounts } from "../../src/ssh/receiveBuffers.js"
import { registerBox } from "../support/libraryHost.js"
import { describeWithSshd } from "../support/sshd.js"

const LINES = 3000

/**
 * Lines 0 to 2999 kept apart from each other by reads: up to 4 000 characters of `x`, or of
 * `é` (two bytes, so that reads cut characters too); about 9 MB in all.
 */
const GENERATE = `python3 -c 'import sys
for i in range(${LINES}): sys.stdout.buffer.write(("%d %s\\n" % (i, ("\\u00e9" if i % 3 else "x") * ((i * 7919) % 4000))).encode())'`
const expectedLine = (i: number) => `${i} ${(i % 3 === 0 ? "x" : "é").repeat((i * 7919) % 4000)}`
const expected = Array.from({ length: LINES }, (_, i) => expectedLine(i))
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

describeWithSshd("a job's output through reused read buffers (sshd making new keys every 1 MiB)", (getSshd) => {
  const run = <A, E>(program: Effect.Effect<A, E, Jobs | Exec | HostRegistry | Connections>) =>
    Effect.runPromise(program.pipe(
      Effect.provide(layerConfig({ knownHostsPath: getSshd().knownHostsPath, limits: { ringBufferLines: 100_000, ringBufferBytes: 64 << 20 } }))
    ))

  it("keeps every line exact while most of its reads go back to the free list", async () => {
    const before = { ...receiveBufferCounts }
    const lines = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      const jobs = yield* Jobs
      const job = yield* jobs.spawn({ host: "box", command: GENERATE })
      return yield* Stream.runCollect(jobs.lines(job.jobId))
    }))
    const reads = receiveBufferCounts.reads - before.reads
    const texts = lines.map((l) => l.text)
    expect(lines.every((l) => l.stream === "stdout")).toBe(true)
    expect(texts.length).toBe(LINES)
    // Compared by hash first (a 9 MB diff says nothing), then the first wrong line.
    if (sha256(texts.join("\n")) !== sha256(expected.join("\n"))) {
      const at = texts.findIndex((t, i) => t !== expected[i])
      expect({ line: at, got: texts[at]?.slice(0, 80) }).toEqual({ line: at, got: expected[at]?.slice(0, 80) })
    }
    expect(reads).toBeGreaterThan(100)
    expect(receiveBufferCounts.reused - before.reused).toBeGreaterThan(reads / 2)
  }, 120_000)

  it("ssh_exec's collected output stays exact: its chunks are kept, its reads are not reused", async () => {
    const before = { ...receiveBufferCounts }
    const r = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      return yield* (yield* Exec).run({ host: "box", command: GENERATE })
    }))
    const all = `${expected.join("\n")}\n`
    expect(r.exitStatus).toBe(0)
    expect(r.truncated).toBe(true)
    // Its first and last 128 KiB (max_output_bytes' default, 256 KiB, halved). The head was
    // read first: a read buffer reused since would have changed it.
    expect(r.stdout.slice(0, 50_000)).toBe(all.slice(0, 50_000))
    expect(r.stdout.slice(-50_000)).toBe(all.slice(-50_000))
    expect(receiveBufferCounts.reads - before.reads).toBeGreaterThan(100)
    expect(receiveBufferCounts.reused - before.reused).toBeLessThan(5)
  }, 120_000)
}, { extraConfig: "RekeyLimit 1M" })
