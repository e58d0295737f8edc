/**
 * src/ssh/receiveBuffers.ts against a real sshd: socket reads into reused buffers never
 * change what a reader still holds. A buffer given back while a view of it is kept (by a
 * reader that keeps its chunks, by a paused stream, by stderr) would be overwritten by a
 * later read: those readers' hashes would differ. And a copying reader alone gets its
 * buffers reused. With AES-GCM, ssh2 is handed whole packets, a key re-exchange in the
 * middle of the data included. The module relies on ssh2 1.17's internals: the first test
 * fails when they change.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import ssh2 from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { gcmDecipher, readsByCopying, receiveBufferCounts, reusingSocket } from "../../src/ssh/receiveBuffers.js"
import { shellQuote } from "../../src/ssh/shell.js"
import { AEAD_CIPHERS, connectBare } from "../support/bareSsh.js"
import type { Sshd } from "../support/sshdServer.js"
import { describeWithSshd } from "../support/sshd.js"

const require = createRequire(import.meta.url)
const CIPHERS = AEAD_CIPHERS

const connect = (sshd: Sshd, cipher: string) => {
  const { sock, attach } = reusingSocket(sshd.host, sshd.port)
  return connectBare(sshd, { cipher, sock, connected: attach })
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex")

type Reader = "copies" | "keeps" | "pauses" | "stderr"

/**
 * Run `command` and read its stdout (stderr for "stderr") as `how` says: "copies" hashes each
 * chunk at once (a copying reader); "keeps" holds every chunk as handed over and hashes them
 * at the end; "pauses" is a copying reader that pauses now and then (chunks wait queued in
 * the stream meanwhile); "stderr" keeps stderr's chunks. The sha256 of what was read.
 */
const read = (client: ssh2.Client, command: string, how: Reader) =>
  new Promise<string>((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err !== undefined && err !== null) return reject(err)
      const hash = createHash("sha256")
      const kept: Array<Buffer> = []
      let chunks = 0
      if (how !== "keeps") readsByCopying(ch)
      const out = how === "stderr" ? ch.stderr : ch
      ;(how === "stderr" ? ch : ch.stderr).resume()
      out.on("data", (d: Buffer) => {
        if (how === "keeps" || how === "stderr") return void kept.push(d)
        hash.update(d)
        if (how === "pauses" && ++chunks % 7 === 0) {
          ch.pause()
          setTimeout(() => ch.resume(), 2)
        }
      })
      ch.on("close", () => resolve(kept.length > 0 ? sha256(Buffer.concat(kept)) : hash.digest("hex")))
    })
  })

/** A 12 MiB file of random bytes that the host's test user can read, made before the suite's tests. */
const withFile = () => {
  let dir = ""
  const state = { file: "", data: Buffer.alloc(0) }
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-receive-"))
    fs.chmodSync(dir, 0o755)
    state.file = path.join(dir, "data.bin")
    state.data = randomBytes(12 * 1024 * 1024 + 333)
    fs.writeFileSync(state.file, state.data, { mode: 0o644 })
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return state
}

describeWithSshd("socket reads into reused buffers (receiveBuffers.ts)", (getSshd) => {
  const f = withFile()

  it("relies on ssh2 internals that are still there (fails when ssh2 changes: review receiveBuffers.ts then)", async () => {
    expect(require("ssh2/package.json").version).toBe("1.17.0")
    const client = await connect(getSshd(), CIPHERS[0])
    try {
      const proto = (client as unknown as { _protocol?: { _decipher?: Record<string, unknown> } })._protocol
      expect(proto?._decipher?.inSeqno).toBeTypeOf("number")
      // The window adjustment's handler, wrapped to count its packets.
      expect((proto as { _handlers?: Record<string, unknown> } | undefined)?._handlers?.CHANNEL_WINDOW_ADJUST).toBeTypeOf("function")
      // The AES-GCM decipher's packet state, read to hand ssh2 whole packets.
      expect(gcmDecipher).toBeDefined()
      expect(Object.getPrototypeOf(proto?._decipher)).toBe(gcmDecipher)
      for (const field of ["_len", "_lenBytes", "_pktLen", "_tagPos"]) expect(proto?._decipher?.[field]).toBe(0)
      await new Promise<void>((resolve, reject) =>
        client.exec("true", (err, ch) => {
          if (err !== undefined && err !== null) return reject(err)
          expect(ch.push).toBeTypeOf("function")
          expect(ch.readableLength).toBe(0)
          ch.on("close", () => resolve()).resume()
        })
      )
    } finally {
      client.end()
    }
  })

  it("counts only a connection's own channels: a connection through a jump connection's forwarded channel, with readers that keep beside copying ones", async () => {
    const sshd = getSshd()
    const jump = await connect(sshd, CIPHERS[0])
    try {
      const tunnel = await new Promise<Duplex>((resolve, reject) =>
        jump.forwardOut("127.0.0.1", 0, sshd.host, sshd.port, (err, ch) => err !== undefined && err !== null ? reject(err) : resolve(ch)))
      const inner = await connectBare(sshd, { cipher: CIPHERS[1], sock: tunnel })
      try {
        const cat = `cat ${shellQuote(f.file)}`
        const readers: Array<Reader> = ["copies", "keeps", "copies", "pauses", "keeps", "copies"]
        // Rounds: a wrong count shows when it happens to equal the jump connection's packets.
        for (let round = 0; round < 4; round++) {
          const hashes = await Promise.all(readers.map((how) => read(inner, cat, how)))
          expect(hashes).toEqual(readers.map(() => sha256(f.data)))
        }
      } finally {
        inner.end()
      }
    } finally {
      jump.end()
    }
  }, 120_000)

  for (const cipher of CIPHERS) {
    it(`never overwrites what a reader still holds, with ${cipher}: readers that keep, pause or read stderr beside copying ones`, async () => {
      const client = await connect(getSshd(), cipher)
      try {
        const cat = `cat ${shellQuote(f.file)}`
        const readers: Array<[string, Reader]> = [
          [cat, "copies"],
          [cat, "keeps"],
          [cat, "pauses"],
          [`${cat} >&2`, "stderr"],
          [cat, "copies"]
        ]
        const hashes = await Promise.all(readers.map(([command, how]) => read(client, command, how)))
        expect(hashes).toEqual(readers.map(() => sha256(f.data)))
        // A copying reader alone: most reads go back to the free list.
        const before = { ...receiveBufferCounts }
        expect(await read(client, cat, "copies")).toBe(sha256(f.data))
        const reads = receiveBufferCounts.reads - before.reads
        expect(reads).toBeGreaterThan(100)
        expect(receiveBufferCounts.reused - before.reused).toBeGreaterThan(reads / 2)
      } finally {
        client.end()
      }
    }, 120_000)
  }
})

/**
 * Write `bytes` of random data to the stdin of `command` (which reads all of it) and wait for
 * the channel to close: the sha256 of what was written, and what the command printed.
 */
const write = (client: ssh2.Client, command: string, bytes: number) =>
  new Promise<{ readonly sent: string; readonly printed: string }>((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err !== undefined && err !== null) return reject(err)
      const hash = createHash("sha256")
      let printed = ""
      ch.on("data", (d: Buffer) => void (printed += d.toString()))
      ch.stderr.resume()
      ch.on("close", () => resolve({ sent: hash.digest("hex"), printed }))
      const piece = randomBytes(1024 * 1024)
      let left = bytes
      const more = () => {
        while (left > 0) {
          const n = Math.min(left, piece.length)
          const chunk = piece.subarray(0, n)
          hash.update(chunk)
          left -= n
          if (!ch.write(chunk)) return void ch.once("drain", more)
        }
        ch.end()
      }
      more()
    })
  })

describeWithSshd("reads of window adjustments (receiveBuffers.ts): an upload's socket reads", (getSshd) => {
  it("gives back the buffers of reads that brought only window adjustments, and what was sent arrives whole", async () => {
    const client = await connect(getSshd(), CIPHERS[0])
    try {
      const before = { ...receiveBufferCounts }
      // sshd adjusts the window every ~96 KiB consumed: some 300 reads for 32 MiB, each a buffer.
      const { sent, printed } = await write(client, "sha256sum", 32 * 1024 * 1024)
      expect(printed.split(" ")[0]).toBe(sent)
      const reads = receiveBufferCounts.reads - before.reads
      expect(reads).toBeGreaterThan(100)
      expect(receiveBufferCounts.reused - before.reused).toBeGreaterThan(reads * 0.8)
    } finally {
      client.end()
    }
  }, 120_000)
})

describeWithSshd("whole AES-GCM packets to ssh2 (receiveBuffers.ts), sshd making new keys every 1 MiB", (getSshd) => {
  const f = withFile()
  it("no read leaves ssh2 part of a packet, though the keys change in the middle of reads", async () => {
    const client = await connect(getSshd(), CIPHERS[0])
    try {
      const cat = `cat ${shellQuote(f.file)}`
      const before = { ...receiveBufferCounts }
      const hashes = await Promise.all([read(client, cat, "copies"), read(client, cat, "keeps"), read(client, `${cat} >&2`, "stderr")])
      expect(hashes).toEqual([sha256(f.data), sha256(f.data), sha256(f.data)])
      const reads = receiveBufferCounts.reads - before.reads
      expect(reads).toBeGreaterThan(200)
      // Each read that did would be a buffer allocated by ssh2: about half of them without this.
      expect(receiveBufferCounts.cut - before.cut).toBeLessThanOrEqual(2)
    } finally {
      client.end()
    }
  }, 120_000)
}, { extraConfig: "RekeyLimit 1M" })
