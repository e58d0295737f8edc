/**
 * The services as an Effect library, against a real sshd: what another Effect app
 * composing `layerConfig` gets.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Stream } from "effect"
import { expect, it } from "vitest"
import { Connections, Exec, HostRegistry, Jobs, layerConfig } from "../../src/index.js"
import { registerBox } from "../support/libraryHost.js"
import { describeWithSshd, waitNoProcess } from "../support/sshd.js"

describeWithSshd("Effect library API", (getSshd) => {
  const run = <A, E>(
    program: Effect.Effect<A, E, Jobs | HostRegistry | Connections | Exec>,
    limits: Parameters<typeof layerConfig>[0] = {}
  ) =>
    Effect.runPromise(
      program.pipe(
        Effect.provide(layerConfig({ knownHostsPath: getSshd().knownHostsPath, ...limits }))
      )
    )

  it("streams a job's lines to the end", async () => {
    const lines = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      const jobs = yield* Jobs
      const job = yield* jobs.spawn({ host: "box", command: "for i in 1 2 3; do echo line $i; sleep 0.2; done; echo err >&2" })
      return yield* Stream.runCollect(jobs.lines(job.jobId))
    }))
    expect(lines.map((l) => `${l.n}:${l.stream}:${l.text}`)).toEqual([
      "1:stdout:line 1", "2:stdout:line 2", "3:stdout:line 3", "4:stderr:err"
    ])
  })

  it("enforces max_jobs_per_host with LIMIT_REACHED", async () => {
    const t = 800_000 + Math.floor(Math.random() * 99_999)
    const exit = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      const jobs = yield* Jobs
      yield* jobs.spawn({ command: `sleep ${t}` })
      yield* jobs.spawn({ command: `sleep ${t}` })
      return yield* Effect.exit(jobs.spawn({ command: `sleep ${t}` }))
    }), { limits: { maxJobsPerHost: 2 } })
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toContain("LimitReachedError")
    // The layer's scope closed after the program: its jobs were stopped.
    expect(await waitNoProcess(getSshd(), `sleep ${t}`)).toBe("")
  })

  it("reaps finished jobs after reap_finished_after_sec", async () => {
    const found = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      const jobs = yield* Jobs
      const job = yield* jobs.spawn({ command: "true" })
      yield* Stream.runDrain(jobs.lines(job.jobId))
      const ids = Effect.map(jobs.list(), (all) => all.map((j) => j.jobId))
      const before = (yield* ids).includes(job.jobId)
      yield* Effect.sleep("2500 millis")
      const after = (yield* ids).includes(job.jobId)
      return { before, after }
    }), { limits: { reapFinishedAfterSec: 1 } })
    expect(found).toEqual({ before: true, after: false })
  })

  it("mirrors every line to <log_dir>/<job_id>.log", async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-logs-"))
    const jobId = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      const jobs = yield* Jobs
      const job = yield* jobs.spawn({ command: "seq 1 20000; echo oops >&2" })
      yield* Stream.runDrain(jobs.lines(job.jobId))
      return job.jobId
    }), { logDir, limits: { ringBufferLines: 100 } })
    const text = fs.readFileSync(path.join(logDir, `${jobId}.log`), "utf8")
    const lines = text.trimEnd().split("\n")
    expect(lines).toHaveLength(20_001)
    // stdout and stderr are separate pipes on the host: their relative order is not fixed.
    const stdout = lines.filter((l) => !l.startsWith("[stderr] "))
    expect(stdout).toEqual(Array.from({ length: 20_000 }, (_, i) => String(i + 1)))
    expect(lines.filter((l) => l.startsWith("[stderr] "))).toEqual(["[stderr] oops"])
  })

  it("runs exec with the same layer", async () => {
    const r = await run(Effect.gen(function*() {
      yield* registerBox(getSshd())
      return yield* (yield* Exec).run({ command: "echo hi" })
    }))
    expect(r.stdout).toBe("hi\n")
    expect(r.exitStatus).toBe(0)
  })
})


describeWithSshd("more jobs than sshd's MaxSessions", (getSshd) => {
  it("runs 100 concurrent jobs on one host with MaxSessions 10, opening more connections", async () => {
    const sshd = getSshd()
    const results = await Effect.runPromise(Effect.gen(function*() {
      yield* registerBox(sshd)
      const jobs = yield* Jobs
      const started = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => jobs.spawn({ command: `for k in 1 2 3; do echo job${i} line $k; sleep 0.5; done` }),
        { concurrency: "unbounded" }
      )
      return yield* Effect.forEach(started, (job) =>
        Effect.map(Stream.runCollect(jobs.lines(job.jobId)), (lines) => ({ id: job.jobId, lines: lines.map((l) => l.text) })), { concurrency: "unbounded" })
    }).pipe(Effect.provide(layerConfig({ knownHostsPath: sshd.knownHostsPath, limits: { maxJobsPerHost: 200 } }))))
    expect(results).toHaveLength(100)
    results.forEach((r, i) => expect(r.lines).toEqual([`job${i} line 1`, `job${i} line 2`, `job${i} line 3`]))
  })
}, { maxSessions: 10 })
