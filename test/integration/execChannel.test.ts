/**
 * src/ssh/execChannel.ts against a real sshd: exec channels opened without waiting for the
 * exec request's answer (input written at once reaches the command), with a pty asked for in
 * the same round trip, with a receive window larger than ssh2's, and refusals told on stderr.
 * The module relies on ssh2 1.17's internals: the first test fails when they change.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import ssh2, { type ClientChannel } from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { EXEC_REFUSED, openExecChannel, PTY_REFUSED, SSH2_WINDOW } from "../../src/ssh/execChannel.js"
import { connectBare } from "../support/bareSsh.js"
import { describeWithSshd } from "../support/sshd.js"

const require = createRequire(import.meta.url)

const connect = connectBare

interface Ran {
  out: Buffer
  err: string
  code: number | null | undefined
  /** The channel's receive window, largest seen after a data event. */
  maxWindow: number
  /** The smallest seen once 24 MiB had come (the first window used up: what the top-ups keep). */
  lateMinWindow: number
}

/** Run `command` through `openExecChannel`, writing `stdin` (then EOF) as soon as the channel is handed over. */
const run = (client: ssh2.Client, command: string, options: Parameters<typeof openExecChannel>[2], stdin?: string) =>
  new Promise<Ran>((resolve, reject) => {
    openExecChannel(client, command, options, (err, channel) => {
      if (err !== undefined || channel === undefined) return reject(err ?? new Error("no channel"))
      const ch = channel as ClientChannel & { incoming: { window: number } }
      const out: Array<Buffer> = []
      let err2 = ""
      let code: number | null | undefined
      let maxWindow = 0
      let lateMinWindow = Infinity
      let bytes = 0
      ch.on("data", (d: Buffer) => {
        out.push(d)
        bytes += d.length
        maxWindow = Math.max(maxWindow, ch.incoming.window)
        if (bytes > 24 * 1024 * 1024) lateMinWindow = Math.min(lateMinWindow, ch.incoming.window)
      })
      ch.stderr.on("data", (d: Buffer) => (err2 += d.toString()))
      ch.on("exit", (c: number | null) => (code = c))
      ch.on("close", () => resolve({ out: Buffer.concat(out), err: err2, code, maxWindow, lateMinWindow }))
      if (stdin !== undefined) ch.end(stdin)
    })
  })

describeWithSshd("exec channels opened by execChannel.ts", (getSshd) => {
  let client: ssh2.Client
  beforeAll(async () => {
    client = await connect(getSshd())
  })
  afterAll(() => client?.end())

  it("relies on ssh2 internals that are still there (fails when ssh2 changes: review execChannel.ts then)", () => {
    expect(require("ssh2/package.json").version).toBe("1.17.0")
    const channelModule = require("ssh2/lib/Channel.js") as { MAX_WINDOW: number; PACKET_SIZE: number }
    expect(channelModule.MAX_WINDOW).toBe(2 * 1024 * 1024)
    expect(SSH2_WINDOW).toBe(channelModule.MAX_WINDOW)
    const c = client as unknown as { _chanMgr: { add: unknown }; _protocol: Record<string, unknown>; _sock: unknown }
    expect(typeof c._chanMgr.add).toBe("function")
    for (const m of ["session", "exec", "pty", "channelWindowAdjust"]) expect(typeof c._protocol[m]).toBe("function")
    // ssh2's own top-up still goes to its 2 MiB: that is what keepWindow works around.
    const source = fs.readFileSync(require.resolve("ssh2/lib/Channel.js"), "utf8")
    expect(source).toContain("const amt = MAX_WINDOW - self.incoming.window;")
    const client2 = fs.readFileSync(require.resolve("ssh2/lib/client.js"), "utf8")
    // The open's confirmation calls the function we add with the new channel; replies shift `_callbacks`.
    expect(client2).toContain("channel(undefined, instance);")
    expect(client2).toContain("channel._callbacks.shift()(false);")
    expect(client2).toContain("channel._callbacks.shift()(true);")
  })

  it("hands the channel over before the exec request is answered; input written at once reaches the command", async () => {
    const r = await run(client, "cat; echo done", {}, "hello\n")
    expect(r.out.toString()).toBe("hello\ndone\n")
    expect(r.code).toBe(0)
  })

  it("runs commands side by side on one connection", async () => {
    const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => run(client, `read x; echo "$x ${i}"`, {}, `line\n`)))
    expect(rs.map((r) => r.out.toString())).toEqual(Array.from({ length: 5 }, (_, i) => `line ${i}\n`))
  })

  it("asks for a pty in the same round trip", async () => {
    const r = await run(client, "tty; echo $TERM; stty size", { pty: { term: "xterm", rows: 40, cols: 200 } })
    const lines = r.out.toString().split(/\r?\n/)
    expect(lines[0]).toMatch(/^\/dev\/pts\//)
    expect(lines[1]).toBe("xterm")
    expect(lines[2]).toBe("40 200")
  })

  it("keeps a larger receive window topped up, and delivers every byte", async () => {
    const window = 16 * 1024 * 1024
    const r = await run(client, "head -c 67108864 /dev/zero", { window })
    expect(r.out.length).toBe(64 * 1024 * 1024)
    expect(r.code).toBe(0)
    expect(r.maxWindow).toBeLessThanOrEqual(window)
    expect(r.lateMinWindow).toBeGreaterThan(SSH2_WINDOW)
    // Also once our side has sent EOF (a command that reads its input, then prints much).
    const afterEof = await run(client, "cat > /dev/null; head -c 67108864 /dev/zero", { window }, "input\n")
    expect(afterEof.out.length).toBe(64 * 1024 * 1024)
    expect(afterEof.lateMinWindow).toBeGreaterThan(SSH2_WINDOW)
    // ssh2's own window otherwise.
    const plain = await run(client, "head -c 8388608 /dev/zero", {})
    expect(plain.out.length).toBe(8 * 1024 * 1024)
    expect(plain.maxWindow).toBeLessThanOrEqual(SSH2_WINDOW)
  })

  it("a connection that drops while requests are unanswered ends the channel without an unhandled error", async () => {
    const other = await connect(getSshd())
    const closed = await new Promise<boolean>((resolve, reject) => {
      openExecChannel(other, "sleep 5", { pty: { term: "xterm", rows: 24, cols: 80 } }, (err, channel) => {
        if (err !== undefined || channel === undefined) return reject(err ?? new Error("no channel"))
        channel.on("close", () => resolve(true))
        channel.resume()
        // The pty and exec requests are on their way: their answers never come.
        other.destroy()
      })
    })
    expect(closed).toBe(true)
    // An 'error' emitted on stderr with no listener would surface here as an unhandled error.
    await new Promise((r) => setTimeout(r, 200))
  })

    it("a paused reader stops the top-ups, so the sender stops at the window", async () => {
    const window = 8 * 1024 * 1024
    const got = await new Promise<{ held: number; total: number }>((resolve, reject) => {
      openExecChannel(client, "head -c 67108864 /dev/zero", { window }, (err, channel) => {
        if (err !== undefined || channel === undefined) return reject(err ?? new Error("no channel"))
        let total = 0
        let paused = false
        channel.on("data", (d: Buffer) => {
          total += d.length
          if (total >= 1024 * 1024 && !paused) {
            paused = true
            channel.pause()
            // What arrives while paused is bounded by the window.
            setTimeout(() => {
              const held = channel.readableLength
              channel.on("close", () => resolve({ held, total }))
              channel.resume()
            }, 500)
          }
        })
      })
    })
    expect(got.held).toBeLessThanOrEqual(window + 1024 * 1024)
    expect(got.total).toBe(64 * 1024 * 1024)
  })
})

describeWithSshd("a refused pty request (PermitTTY no)", (getSshd) => {
  let client: ssh2.Client
  beforeAll(async () => {
    client = await connect(getSshd())
  })
  afterAll(() => client?.end())

  it("is told on stderr, and the command runs without a terminal", async () => {
    const r = await run(client, "tty; echo ran", { pty: { term: "xterm", rows: 24, cols: 80 } })
    expect(r.err).toBe(PTY_REFUSED)
    expect(r.out.toString()).toBe("not a tty\nran\n")
    expect(r.code).toBe(0)
    expect(EXEC_REFUSED).toMatch(/refused/)
  })
}, { extraConfig: "PermitTTY no" })
