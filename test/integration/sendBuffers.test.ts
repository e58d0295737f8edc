/**
 * src/ssh/sendBuffers.ts against a real sshd: packets sent from reused buffers arrive intact
 * (a buffer given back before the socket wrote it would corrupt a later packet: the hashes
 * would differ), with each AEAD cipher, several channels at once; and the buffers are reused;
 * the packets of one large write reach the socket as one writev.
 * The module relies on ssh2 1.17's internals: the first test fails when they change.
 */
import { createHash, randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import ssh2 from "ssh2"
import { expect, it } from "vitest"
import { cipherPrototype, originalAllocPacket, reuseSendBuffers, reusingCiphers, sendBufferCounts, SLOT_BYTES } from "../../src/ssh/sendBuffers.js"
import { AEAD_CIPHERS, connectBare } from "../support/bareSsh.js"
import type { Sshd } from "../support/sshdServer.js"
import { describeWithSshd } from "../support/sshd.js"

const require = createRequire(import.meta.url)
const CIPHERS = AEAD_CIPHERS

const connect = (sshd: Sshd, cipher: string) => connectBare(sshd, { cipher, connected: reuseSendBuffers })

/**
 * Send `data` to `sha256sum` on the host through an exec channel: the hash it printed. The
 * client's socket is corked meanwhile: the packets wait in it unwritten, as they do when the
 * kernel's buffer is full (on loopback it rarely is), until the next turn of the event loop.
 */
const remoteHash = (client: ssh2.Client, data: Buffer) =>
  new Promise<string>((resolve, reject) => {
    client.exec("sha256sum", (err, ch) => {
      if (err !== undefined && err !== null) return reject(err)
      let out = ""
      ch.on("data", (d: Buffer) => (out += d.toString()))
      ch.stderr.resume()
      ch.on("close", () => resolve(out.split(" ")[0]!))
      const sock = (client as unknown as { _sock: { cork(): void; uncork(): void } })._sock
      sock.cork()
      setImmediate(() => sock.uncork())
      // In pieces of mixed sizes, as a file read would hand them over.
      for (let at = 0; at < data.length;) {
        const n = Math.min(data.length - at, 1 + ((at * 7919) % (96 * 1024)))
        ch.write(data.subarray(at, at + n))
        at += n
      }
      ch.end()
    })
  })

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex")

describeWithSshd("packets sent from reused buffers (sendBuffers.ts)", (getSshd) => {
  it("relies on ssh2 internals that are still there (fails when ssh2 changes: review sendBuffers.ts then)", () => {
    expect(require("ssh2/package.json").version).toBe("1.17.0")
    expect(reusingCiphers).toEqual([...CIPHERS])
    // Our allocPacket frames a packet as ssh2's own does: its length, padding length and size.
    for (const cipher of CIPHERS) {
      expect(originalAllocPacket[cipher]).toBeTypeOf("function")
      for (const payload of [0, 1, 2, 3, 4, 5, 11, 12, 13, 15, 16, 17, 100, 1000, 32768 + 9, SLOT_BYTES]) {
        const theirs = originalAllocPacket[cipher]!.call({}, payload)
        const mine = cipherPrototype(cipher)!.allocPacket(payload)
        expect([mine.length, mine.readUInt32BE(0), mine[4]]).toEqual([theirs.length, theirs.readUInt32BE(0), theirs[4]])
      }
    }
  })

  for (const cipher of CIPHERS) {
    it(`sends intact data from reused buffers with ${cipher}, three channels at once`, async () => {
      const client = await connect(getSshd(), cipher)
      try {
        const before = { ...sendBufferCounts }
        const data = [randomBytes(24 * 1024 * 1024 + 5), randomBytes(8 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 77)]
        const hashes = await Promise.all(data.map((d) => remoteHash(client, d)))
        expect(hashes).toEqual(data.map(sha256))
        // Again on the same connection: the buffers come from the free list now.
        const again = randomBytes(16 * 1024 * 1024)
        expect(await remoteHash(client, again)).toBe(sha256(again))
        const packets = sendBufferCounts.packets - before.packets
        const made = sendBufferCounts.made - before.made
        expect(packets).toBeGreaterThan(1500)
        expect(made).toBeLessThan(packets / 4)
      } finally {
        client.end()
      }
    }, 120_000)
  }

  it("the packets of one large channel write leave the socket together, in one writev", async () => {
    const client = await connect(getSshd(), CIPHERS[0])
    try {
      const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.exec("sha256sum", (err, ch) => (err !== undefined && err !== null ? reject(err) : resolve(ch))))
      let out = ""
      ch.on("data", (d: Buffer) => (out += d.toString()))
      ch.stderr.resume()
      const closed = new Promise<void>((resolve) => ch.on("close", () => resolve()))
      // What the socket is handed, as the kernel would see it: one write(2) per `_write`, one writev(2) per `_writev`.
      const sock = (client as unknown as { _sock: { _write: (...a: Array<unknown>) => void; _writev: (chunks: Array<unknown>, cb: unknown) => void } })._sock
      const calls: Array<number> = []
      const [write, writev] = [sock._write, sock._writev]
      sock._write = function(this: unknown, ...a: Array<unknown>) {
        calls.push(1)
        return write.apply(this, a)
      }
      sock._writev = function(this: unknown, chunks: Array<unknown>, cb: unknown) {
        calls.push(chunks.length)
        return writev.call(this, chunks, cb)
      }
      const data = randomBytes(1024 * 1024)
      ch.write(data) // 32 packets: ssh2 cuts it at sshd's 32 KiB packet size, within the 2 MiB window
      await new Promise((r) => setImmediate(r))
      const sent = calls.splice(0)
      ch.end()
      await closed
      expect(out.split(" ")[0]).toBe(sha256(data))
      expect(sent.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(32)
      // Without coalescing: 32 calls of one packet each.
      expect(sent.length).toBeLessThanOrEqual(2)
    } finally {
      client.end()
    }
  })
})
