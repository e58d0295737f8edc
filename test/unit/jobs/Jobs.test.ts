/**
 * The job services on virtual time: a fake `Connections` (channels the test drives)
 * and `TestClock`, so timeouts of seconds or minutes take microseconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import type { Limits } from "../../../src/domain/limits.js"
import { AppConfig } from "../../../src/domain/AppConfig.js"
import { Exec, type ExecRequest } from "../../../src/services/Exec.js"
import { HostRegistry } from "../../../src/services/HostRegistry.js"
import { Jobs, type SpawnRequest, type TailRequest } from "../../../src/services/Jobs.js"
import { ProcessGroups } from "../../../src/jobs/ProcessGroups.js"
import { remoteHostsLayer } from "../../../src/layers/RemoteHosts.js"
import { fakeConnections, type FakeHost } from "../../support/fakeConnections.js"

const layerWith = (fake: ReturnType<typeof fakeConnections>, limits: Partial<Limits> = {}) =>
  Jobs.layer.pipe(
    Layer.provideMerge(ProcessGroups.layer),
    Layer.provideMerge(remoteHostsLayer),
    Layer.provideMerge(Layer.mergeAll(fake.layer, HostRegistry.layer)),
    Layer.provideMerge(AppConfig.layer({ hosts: [{ alias: "h", host: "127.0.0.1", port: 22, source: "cli" }], limits }))
  )

/** Run `test` against Jobs and Exec over a fresh fake host (on the test's clock: TestClock under it.effect). */
const withJobs = <A, E>(test: (host: FakeHost) => Effect.Effect<A, E, Jobs | Exec>, limits: Partial<Limits> = {}) => {
  const fake = fakeConnections()
  return test(fake.host).pipe(Effect.provide(Exec.layer.pipe(Layer.provideMerge(layerWith(fake, limits)))))
}

/** Let the event loop deliver what the fake scheduled (the PID marker, kill replies). */
const settle = Effect.promise(() => new Promise<void>((r) => setImmediate(r))).pipe(Effect.repeat({ times: 3 }))

/** Waits (on the job's change signal, not on time) until the job has ended. */
const ended = (jobId: string) => Effect.flatMap(Jobs, (jobs) => Stream.runDrain(jobs.changes(jobId)))

const spawn = (host: FakeHost, request: Omit<SpawnRequest, "host">) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const info = yield* jobs.spawn({ host: "h", ...request })
    return { jobs, jobId: info.jobId, channel: host.jobs.at(-1)! }
  })

const status = (jobId: string) => Effect.flatMap(Jobs, (jobs) => jobs.get(jobId))

describe("Jobs on TestClock", () => {
  it.effect("drops a finished job reap_finished_after_sec after it ended, not before", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId, channel } = yield* spawn(host, { command: "true" })
        channel.exit(0)
        yield* ended(jobId)
        assert.strictEqual((yield* status(jobId)).status, "exited")
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* status(jobId)).status, "exited")
        yield* TestClock.adjust("2 seconds")
        const gone = yield* Effect.exit(jobs.get(jobId))
        assert.isTrue(Exit.isFailure(gone))
        assert.strictEqual((yield* jobs.list()).length, 0)
        // It leaves a tombstone: the error tells how it ended, and reaped lists it.
        assert.match(JSON.stringify(gone), new RegExp(`job '${jobId}' on h exited 0 at .* after 0 lines, and was reaped at`))
        assert.deepStrictEqual((yield* jobs.reaped()).map((t) => [t.jobId, t.status, t.exitStatus]), [[jobId, "exited", 0]])
        assert.strictEqual((yield* jobs.reaped({ host: "other" })).length, 0)
        yield* TestClock.adjust("24 hours")
        assert.strictEqual((yield* jobs.reaped()).length, 0)
        assert.match(JSON.stringify(yield* Effect.exit(jobs.get(jobId))), /no job '/)
      }), { reapFinishedAfterSec: 60 }))

  it.effect("a signal to a job that has ended is SIGNAL_NOT_DELIVERED, never a success", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId, channel } = yield* spawn(host, { command: "true" })
        channel.exit(0)
        yield* ended(jobId)
        const r = yield* Effect.exit(jobs.signal(jobId, "TERM"))
        assert.match(JSON.stringify(r), /SignalNotDeliveredError/)
        assert.match(JSON.stringify(r), /has already ended \(exited 0\)/)
        assert.strictEqual(host.helpers.length, 0)
      })))

  it.effect("a job whose channel is lost is looked up by its process group: gone, it stays lost", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId, channel } = yield* spawn(host, { command: "sleep 100" })
        yield* settle
        channel.alive = false
        channel.close()
        yield* ended(jobId)
        yield* settle
        const job = yield* status(jobId)
        assert.deepStrictEqual([job.status, job.endReason, job.exitStatus], ["lost", "connection_lost", null])
        assert.isTrue(host.helpers.some((h) => h.command.includes("kill -0 -- -1000")))
        // Nothing is left to signal: an error, not a success.
        const r = yield* Effect.exit(jobs.signal(jobId, "TERM"))
        assert.match(JSON.stringify(r), /SignalNotDeliveredError.*no process is left in process group 1000/)
      })))

  it.effect("a job whose channel is lost but whose group runs on is detached, and a signal reaches it through its PID", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId, channel } = yield* spawn(host, { command: "sleep 100" })
        yield* settle
        channel.close()
        yield* ended(jobId)
        yield* settle
        const detached = yield* status(jobId)
        assert.deepStrictEqual([detached.status, detached.endReason, detached.endedAt], ["detached", "connection_lost", null])
        // Still counted on the host, and still needing force to be removed.
        assert.strictEqual((yield* jobs.runningCountByHost).get("h"), 1)
        assert.match(JSON.stringify(yield* Effect.exit(jobs.remove(jobId))), /JobRunningError/)
        const r = yield* jobs.signal(jobId, "TERM")
        assert.deepStrictEqual([r.sentViaChannel, r.sentViaPid, r.job.status, r.job.signal, r.job.endReason], [false, true, "killed", "TERM", "signal"])
      })))

  it.effect("a job on a host that is down says so, and a tail returns at once", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId } = yield* spawn(host, { command: "sleep 100" })
        assert.strictEqual((yield* status(jobId)).hostConnected, true)
        host.connected = false
        const r = yield* jobs.tail({ jobId, since: 0, waitMs: 30_000, maxLines: 10, maxBytes: 1000, stream: "both" })
        assert.deepStrictEqual([r.job.status, r.job.hostConnected], ["running", false])
        assert.strictEqual((yield* jobs.list())[0]!.hostConnected, false)
      })))

  it.effect("stops a job after idle_timeout without output, and not while output flows", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobId, channel } = yield* spawn(host, { command: "chatty", idleTimeoutMs: 1_000 })
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust(800)
          channel.out(`line ${i}\n`)
          yield* settle
          assert.strictEqual((yield* status(jobId)).status, "running")
        }
        yield* TestClock.adjust(999)
        yield* settle
        assert.strictEqual((yield* status(jobId)).status, "running")
        yield* TestClock.adjust(1)
        yield* ended(jobId)
        const info = yield* status(jobId)
        assert.strictEqual(info.status, "killed")
        assert.strictEqual(info.endReason, "idle-timeout")
        assert.deepStrictEqual(channel.signals, ["TERM"])
      })))

  it.effect("stops a job at its deadline (timeout_ms)", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobId, channel } = yield* spawn(host, { command: "sleep 1000", timeoutMs: 5_000 })
        yield* TestClock.adjust(4_999)
        yield* settle
        assert.strictEqual((yield* status(jobId)).status, "running")
        yield* TestClock.adjust(1)
        yield* ended(jobId)
        const info = yield* status(jobId)
        assert.strictEqual(info.status, "killed")
        assert.strictEqual(info.endReason, "timeout")
        assert.deepStrictEqual(channel.signals, ["TERM"])
      })))

  it.effect("reports awaiting_input once a prompt-like partial line has been quiet for 300 ms", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobId, channel } = yield* spawn(host, { command: "passwd" })
        channel.out("Changing password.\nNew password: ")
        yield* TestClock.adjust(299)
        yield* settle
        assert.isFalse((yield* status(jobId)).awaitingInput)
        yield* TestClock.adjust(1)
        yield* settle
        const info = yield* status(jobId)
        assert.isTrue(info.awaitingInput)
        assert.strictEqual(info.prompt, "New password: ")
        // More output: no longer waiting at that prompt.
        channel.out("\n")
        assert.isFalse((yield* status(jobId)).awaitingInput)
      })))

  describe("tail", () => {
    const tail = (jobId: string, request: Omit<TailRequest, "jobId" | "since" | "maxLines" | "maxBytes" | "stream">) =>
      Effect.flatMap(Jobs, (jobs) =>
        Effect.forkChild(jobs.tail({ jobId, since: 0, maxLines: 100, maxBytes: 1 << 20, stream: "both", ...request })))

    it.effect("waits for min_lines new lines", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const { jobId, channel } = yield* spawn(host, { command: "build" })
          const fiber = yield* tail(jobId, { waitMs: 60_000, minLines: 3 })
          channel.out("one\ntwo\n")
          yield* settle
          assert.isUndefined(fiber.pollUnsafe())
          channel.out("three\n")
          const result = yield* Fiber.join(fiber)
          assert.deepStrictEqual(result.lines.map((l) => l.text), ["one", "two", "three"])
          assert.strictEqual(result.nextLineNo, 3)
        })))

    it.effect("returns what it has when wait_ms runs out", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const { jobId, channel } = yield* spawn(host, { command: "slow" })
          const fiber = yield* tail(jobId, { waitMs: 2_000, minLines: 5 })
          channel.out("only\n")
          yield* TestClock.adjust(1_999)
          yield* settle
          assert.isUndefined(fiber.pollUnsafe())
          yield* TestClock.adjust(1)
          const result = yield* Fiber.join(fiber)
          assert.deepStrictEqual(result.lines.map((l) => l.text), ["only"])
          assert.strictEqual(result.job.status, "running")
        })))

    it.effect("wakes on output, long before wait_ms", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const { jobId, channel } = yield* spawn(host, { command: "quiet" })
          const fiber = yield* tail(jobId, { waitMs: 60_000 })
          yield* TestClock.adjust(10_000)
          yield* settle
          assert.isUndefined(fiber.pollUnsafe())
          channel.out("hello\n")
          const result = yield* Fiber.join(fiber)
          assert.deepStrictEqual(result.lines.map((l) => l.text), ["hello"])
        })))

    it.effect("returns at once when the job starts waiting at a prompt", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const { jobId, channel } = yield* spawn(host, { command: "apt install x" })
          const fiber = yield* tail(jobId, { waitMs: 60_000, minLines: 10 })
          channel.out("Reading lists\nContinue? [Y/n] ")
          yield* TestClock.adjust(300)
          const result = yield* Fiber.join(fiber)
          assert.deepStrictEqual(result.lines.map((l) => l.text), ["Reading lists"])
          assert.strictEqual(result.partial, "Continue? [Y/n] ")
          assert.isTrue(result.job.awaitingInput)
        })))
  })

  describe("exec", () => {
    const exec = (request: Omit<ExecRequest, "host">) => Effect.flatMap(Exec, (e) => Effect.forkChild(e.run({ host: "h", ...request })))
    /** Wait until the fake has started the command. */
    const started = (host: FakeHost) =>
      Effect.gen(function*() {
        while (host.jobs.length === 0) yield* settle
        yield* settle
        return host.jobs.at(-1)!
      })

    it.effect("hands over after background_after_ms with no gap or duplicate between its output and the job's", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const fiber = yield* exec({ command: "long", backgroundAfterMs: 5_000 })
          const channel = yield* started(host)
          channel.out("one\ntwo\n")
          yield* TestClock.adjust(5_000)
          const result = yield* Fiber.join(fiber)
          assert.strictEqual(result.status, "running")
          assert.strictEqual(result.stdout, "one\ntwo\n")
          assert.strictEqual(result.nextLineNo, 2)
          assert.isNotNull(result.jobId)
          channel.out("three\n")
          const jobs = yield* Jobs
          const rest = yield* jobs.tail({ jobId: result.jobId!, since: result.nextLineNo!, waitMs: 0, maxLines: 100, maxBytes: 1 << 20, stream: "both" })
          assert.deepStrictEqual(rest.lines.map((l) => l.text), ["three"])
          assert.strictEqual((yield* jobs.list()).length, 1)
        })))

    it.effect("hands over at once at a prompt (after its quiet time), not at background_after_ms", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const fiber = yield* exec({ command: "ask", backgroundAfterMs: 60_000 })
          const channel = yield* started(host)
          channel.out("Proceed? [y/N] ")
          yield* TestClock.adjust(300)
          const result = yield* Fiber.join(fiber)
          assert.isTrue(result.awaitingInput)
          assert.strictEqual(result.prompt, "Proceed? [y/N] ")
          assert.isNotNull(result.jobId)
        })))

    it.effect("waits for the end without background_after_ms, and stops the command when interrupted", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const done = yield* exec({ command: "quick" })
          const first = yield* started(host)
          first.out("ok\n")
          first.exit(0)
          const result = yield* Fiber.join(done)
          assert.strictEqual(result.status, "exited")
          assert.strictEqual(result.stdout, "ok\n")
          assert.isNull(result.jobId)
          const cancelled = yield* exec({ command: "forever" })
          while (host.jobs.length < 2) yield* settle
          yield* settle
          yield* Fiber.interrupt(cancelled)
          assert.deepStrictEqual(host.jobs[1]!.signals, ["TERM"])
          assert.strictEqual((yield* (yield* Jobs).list()).length, 0)
        })))

    it.effect("Jobs.run without mayHandOver takes its place at handOver, or fails with LIMIT_REACHED", () =>
      withJobs((host) =>
        Effect.scoped(Effect.gen(function*() {
          const jobs = yield* Jobs
          const first = yield* jobs.run({ host: "h", command: "a" })
          yield* settle
          const handed = yield* first.handOver
          assert.strictEqual(handed.job.jobId, first.jobId)
          assert.strictEqual((yield* jobs.list()).length, 1)
          const second = yield* jobs.run({ host: "h", command: "b" })
          const refused = yield* Effect.flip(second.handOver)
          assert.strictEqual(refused.code, "LIMIT_REACHED")
          assert.strictEqual((yield* jobs.list()).length, 1)
          yield* second.stop("removed")
          assert.deepStrictEqual(host.jobs[1]!.signals, ["TERM"])
        })), { maxJobs: 1 }))

    it.effect("Jobs.run is a scoped resource: closing its scope stops the command, unless it was handed over", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const jobs = yield* Jobs
          yield* Effect.scoped(Effect.andThen(jobs.run({ host: "h", command: "left" }), settle))
          assert.deepStrictEqual(host.jobs[0]!.signals, ["TERM"], "stopped when its scope closed")
          const handed = yield* Effect.scoped(Effect.gen(function*() {
            const command = yield* jobs.run({ host: "h", command: "kept" })
            yield* settle
            return yield* command.handOver
          }))
          yield* settle
          assert.deepStrictEqual(host.jobs[1]!.signals, [], "a handed over command is the jobs' now")
          assert.strictEqual((yield* jobs.get(handed.job.jobId)).status, "running")
        })))

    it.effect("the place a command took (mayHandOver) is given back when its scope closes", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const jobs = yield* Jobs
          yield* Effect.scoped(Effect.gen(function*() {
            yield* jobs.run({ host: "h", command: "first", mayHandOver: true })
            yield* settle
            const refused = yield* Effect.flip(jobs.spawn({ host: "h", command: "second" }))
            assert.strictEqual(refused.code, "LIMIT_REACHED")
          }))
          yield* settle
          assert.strictEqual(host.jobs.length, 1)
          const { jobId } = yield* spawn(host, { command: "second" })
          assert.strictEqual((yield* status(jobId)).status, "running")
        }), { maxJobsPerHost: 1 }))

    it.effect("a launch interrupted before the command runs stops it and frees its place", () =>
      withJobs((host) =>
        Effect.gen(function*() {
          const jobs = yield* Jobs
          // sudo never answers here: the launch is still waiting for it when it is interrupted.
          const launching = yield* Effect.forkChild(Effect.scoped(jobs.run({ host: "h", command: "slow", mayHandOver: true, sudo: true })))
          while (host.jobs.length < 1) yield* settle
          yield* Fiber.interrupt(launching)
          yield* settle
          assert.isTrue(host.jobs[0]!.closed, "its channel is closed")
          const { jobId } = yield* spawn(host, { command: "next" })
          assert.strictEqual((yield* status(jobId)).status, "running")
        }), { maxJobsPerHost: 1 }))
  })

  it.effect("spans are named for the module that runs them: the runner's signal and stdin are JobRunner's, not a second Jobs span", () =>
    withJobs((host) =>
      Effect.gen(function*() {
        const { jobs, jobId } = yield* spawn(host, { command: "cat" })
        yield* settle
        const names: Array<string> = []
        const tracer = Tracer.make({
          span(options) {
            names.push(options.name)
            return new Tracer.NativeSpan(options)
          }
        })
        yield* Effect.provideService(Effect.andThen(jobs.sendStdin(jobId, "x"), jobs.signal(jobId, "USR1")), Tracer.Tracer, tracer)
        assert.deepStrictEqual(names, ["Jobs.sendStdin", "JobRunner.sendStdin", "JobRunner.signal"])
      })))

  it.effect("shutdown stops every running command of ours, listed or not", () =>
    Effect.gen(function*() {
      const fake = fakeConnections()
      const services = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Exec.layer.pipe(Layer.provideMerge(layerWith(fake))), services)
      const jobs = Context.get(context, Jobs)
      yield* jobs.spawn({ host: "h", command: "listed" })
      yield* jobs.run({ host: "h", command: "foreground" }).pipe(Scope.provide(yield* Scope.make()))
      yield* settle
      yield* Scope.close(services, Exit.void)
      assert.deepStrictEqual(fake.host.jobs.map((c) => c.signals), [["TERM"], ["TERM"]])
    }))
})
