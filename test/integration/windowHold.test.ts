/**
 * src/ssh/windowHold.ts against a real sshd: a held channel is not paused (what comes is
 * delivered at once, nothing waits in the stream), the host stops once the window it was
 * granted is spent, whoever tops the window up (ssh2 itself, or execChannel.ts's larger
 * window), and released, every byte comes. A hold ends with its channel: a later channel
 * given the same id is not held. The module relies on ssh2 1.17's internals: the first test
 * fails when they change.
 */
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import ssh2, { type ClientChannel } from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { SSH2_WINDOW } from "../../src/ssh/execChannel.js"
import { holdsWindow } from "../../src/ssh/windowHold.js"
import { connectBare, execBare } from "../support/bareSsh.js"
import { describeWithSshd } from "../support/sshd.js"

const require = createRequire(import.meta.url)

const MiB = 1024 * 1024
const TOTAL = 48 * MiB
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Counted {
  /** Bytes delivered so far. */
  got: number
  /** The most that waited in the stream after a chunk. */
  queued: number
  readonly ended: Promise<string>
}

/** Count and hash what `channel` delivers, as a copying reader would. */
const count = (channel: ClientChannel): Counted => {
  const hash = createHash("sha256")
  const c = {
    got: 0,
    queued: 0,
    ended: new Promise<string>((resolve) => channel.on("close", () => resolve(hash.digest("hex"))))
  }
  channel.on("data", (d: Buffer) => {
    hash.update(d)
    c.got += d.length
    c.queued = Math.max(c.queued, channel.readableLength)
  })
  channel.stderr.resume()
  return c
}

/** The sha256 of TOTAL zero bytes, what `head -c` sends. */
const zeros = createHash("sha256").update(Buffer.alloc(TOTAL)).digest("hex")

/** Wait until `got` stops growing (the host stopped), at most `ms`. */
const settled = async (c: Counted, ms = 3000) => {
  let last = -1
  for (let waited = 0; waited < ms && c.got !== last; waited += 200) {
    last = c.got
    await sleep(200)
  }
  return c.got
}

describeWithSshd("window holds (windowHold.ts)", (getSshd) => {
  let client: ssh2.Client
  beforeAll(async () => {
    client = await connectBare(getSshd())
  })
  afterAll(() => client?.end())

  it("relies on ssh2 internals that are still there (fails when ssh2 changes: review windowHold.ts then)", async () => {
    expect(require("ssh2/package.json").version).toBe("1.17.0")
    const ch = await execBare(client, "true")
    const internals = ch as unknown as { incoming?: { window?: unknown }; outgoing?: { id?: unknown }; _client?: { _protocol?: { channelWindowAdjust?: unknown } } }
    expect(internals.incoming?.window).toBeTypeOf("number")
    expect(internals.outgoing?.id).toBeTypeOf("number")
    expect(internals._client?._protocol?.channelWindowAdjust).toBeTypeOf("function")
    expect(holdsWindow(ch)).toBeTypeOf("function")
    // Not ssh2's: nothing to hold, the caller pauses instead.
    expect(holdsWindow({ on: () => undefined })).toBeUndefined()
    await new Promise<void>((resolve) => ch.on("close", () => resolve()).resume())
  })

  for (const window of [SSH2_WINDOW, 16 * MiB]) {
    it(`stops the host at the window granted (${window / MiB} MiB), without pausing; released, every byte comes`, async () => {
      const ch = await execBare(client, `head -c ${TOTAL} /dev/zero`, { window })
      const hold = holdsWindow(ch)!
      const c = count(ch)
      // Held from the start: the host may send the window it was granted, no more.
      hold(true)
      const stopped = await settled(c)
      expect(stopped).toBeGreaterThan(0)
      expect(stopped).toBeLessThanOrEqual(window)
      expect(c.got).toBe(stopped)
      // Delivered as it came: nothing waited in the stream (a paused channel would queue it).
      expect(c.queued).toBe(0)
      expect(ch.isPaused()).toBe(false)
      // Held again and again on the way (as a reader whose writes fall behind): still bounded, then whole.
      hold(false)
      let most = 0
      for (let i = 0; i < 3 && c.got < TOTAL; i++) {
        hold(true)
        const before = c.got
        const now = await settled(c, 1500)
        most = Math.max(most, now - before)
        hold(false)
        await sleep(20)
      }
      expect(most).toBeLessThanOrEqual(window)
      expect(await c.ended).toBe(zeros)
      expect(c.got).toBe(TOTAL)
      expect(c.queued).toBe(0)
    }, 60_000)
  }

  it("ends with its channel: a later channel with the same id is not held", async () => {
    const first = await execBare(client, "true")
    const id = (first as unknown as { outgoing: { id: number } }).outgoing.id
    const hold = holdsWindow(first)!
    hold(true)
    await count(first).ended
    // sshd gives the lowest free id: the next channel has the held one's.
    const second = await execBare(client, `head -c ${TOTAL} /dev/zero`)
    expect((second as unknown as { outgoing: { id: number } }).outgoing.id).toBe(id)
    const c = count(second)
    // Held, it would stop at 2 MiB: give it time enough to end, and fail rather than hang.
    const sha = await Promise.race([c.ended, sleep(20_000).then(() => "still waiting")])
    expect(c.got).toBe(TOTAL)
    expect(sha).toBe(zeros)
    // A hold released after its channel closed sends nothing for the new one.
    hold(false)
  }, 60_000)
})
