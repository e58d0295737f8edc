/**
 * The collector of helper output and the listener guard (issue 23, item 2), on a fake
 * channel: a cap passed fails the call naming the step and closes the channel; a listener
 * that throws fails its own call and never throws back into the emitter (ssh2's parser).
 */
import { Deferred, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { collect, formatBytes, HELPER_STDERR_MAX } from "../../../src/ssh/collect.js"
import { guarded } from "../../../src/ssh/listeners.js"
import { RemoteProcess } from "../../../src/ssh/RemoteProcess.js"
import { FakeChannel } from "../../support/fakeConnections.js"

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)

describe("collect", () => {
  it("returns stdout, stderr and the exit code within the caps, stdin sent", async () => {
    const ch = new FakeChannel("cat", (c) => setImmediate(() => {
      c.out(`got ${c.stdin}`)
      c.err("warn")
      c.exit(0)
    }))
    const exit = await run(collect(Effect.succeed(ch), { step: "the test helper", maxStdout: 100, stdin: "hello" }))
    expect(exit).toEqual(Exit.succeed({ stdout: "got hello", stderr: "warn", code: 0 }))
  })

  it("fails with REMOTE_OUTPUT_TOO_LARGE naming the step at the first byte over the stdout cap, and closes the channel", async () => {
    const ch = new FakeChannel("find", (c) => setImmediate(() => {
      c.out("x".repeat(60))
      c.out("y".repeat(41))
      c.out("never kept")
    }))
    const exit = await run(collect(Effect.succeed(ch), { step: "the directory listing (find) of /srv", maxStdout: 100 }))
    expect(ch.closed).toBe(true)
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
    expect(error).toMatchObject({
      error: { code: "REMOTE_OUTPUT_TOO_LARGE", message: "the directory listing (find) of /srv printed more than 100 bytes on stdout; stopped reading it" }
    })
  })

  it("caps stderr too", async () => {
    const ch = new FakeChannel("tar", (c) => setImmediate(() => {
      for (let i = 0; i < 20; i++) c.err("e".repeat(64 * 1024))
    }))
    const exit = await run(Effect.flip(collect(Effect.succeed(ch), { step: "tar", maxStdout: 100 })))
    expect(exit).toMatchObject({ value: { code: "REMOTE_OUTPUT_TOO_LARGE", message: `tar printed more than ${formatBytes(HELPER_STDERR_MAX)} on stderr; stopped reading it` } })
    expect(ch.closed).toBe(true)
  })

  it("a listener that throws fails the call instead of throwing into the emitter", async () => {
    const ch = new FakeChannel("x", (c) => setImmediate(() => {
      c.out("ok")
      // A chunk that is not a Buffer: pushing it makes Buffer.concat throw in the 'close' listener.
      expect(() => c.emit("data", 42)).not.toThrow()
      expect(() => c.exit(0)).not.toThrow()
    }))
    const exit = await run(Effect.flip(collect(Effect.succeed(ch), { step: "the helper", maxStdout: 100 })))
    expect(exit).toMatchObject({ value: { code: "CHANNEL_FAILED", message: expect.stringMatching(/^the helper: /) } })
  })

  it("closes the channel when interrupted", async () => {
    const ch = new FakeChannel("sleep")
    const exit = await run(Effect.timeout(collect(Effect.succeed(ch), { step: "sleep", maxStdout: 100 }), 10))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(ch.closed).toBe(true)
  })
})

describe("guarded", () => {
  it("hands what the listener throws to onThrow and returns normally", () => {
    const thrown: Array<unknown> = []
    const listener = guarded((e) => thrown.push(e))((n: number) => {
      if (n > 1) throw new Error(`too big: ${n}`)
    })
    expect(() => listener(1)).not.toThrow()
    expect(() => listener(2)).not.toThrow()
    expect(thrown).toEqual([new Error("too big: 2")])
  })
})

describe("RemoteProcess", () => {
  it("a sink that throws closes the channel and ends the process as lost, never throwing into ssh2", async () => {
    const ch = new FakeChannel("job")
    const p = new RemoteProcess(ch, () => {
      throw new Error("sink broke")
    })
    expect(() => ch.err("output")).not.toThrow()
    expect(ch.closed).toBe(true)
    expect(p.failure).toEqual(new Error("sink broke"))
    expect(await Effect.runPromise(Deferred.await(p.exited))).toEqual({ exitStatus: null, signal: null })
  })
})
