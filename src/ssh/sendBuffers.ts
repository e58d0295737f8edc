/**
 * Reused buffers for the packets ssh2 sends. ssh2 allocates a fresh buffer for every
 * packet (32 KiB of file data each, during an upload) and drops it once the socket has
 * written it: a gigabyte sent is a gigabyte of short-lived external memory, and V8 answers
 * each 64 MiB of it with a full mark-compact of the server's heap. That was a quarter of
 * the server's CPU in a loopback upload (~1 s of 3.8 s per GiB, most of it in major GCs).
 *
 * Here the AEAD ciphers' `allocPacket` (AES-GCM and ChaCha20-Poly1305 of ssh2's native
 * binding: the ones offered by default, encrypting in place) takes its buffer from a small
 * free list, and the connection's socket gives it back once it has written it (its write
 * callback; a failed or never-written packet is left to the GC). The packet's random
 * padding comes from a pool of CSPRNG bytes, each used once, instead of a `randomFillSync`
 * call per packet. The packets written in one turn (ssh2 cuts a 1 MiB channel write into 32)
 * wait in the corked socket until the next tick and leave in one writev, not a write(2) each.
 *
 * Relies on ssh2 1.17 internals (the binding ciphers' `allocPacket`, the client's `_sock`
 * written once per packet): test/integration/sendBuffers.test.ts fails when they change.
 *
 * @since 0.4.0
 */
import { randomFillSync } from "node:crypto"
import type { Client } from "ssh2"
import { bindingPrototype } from "./ssh2Crypto.js"

/** Bytes of a reusable packet buffer: a full 32 KiB channel-data packet with its header, padding and tag. */
export const SLOT_BYTES = 32 * 1024 + 256

/** Packets smaller than this are not worth a slot. */
const SMALL_BYTES = 4096

/** Free buffers kept at most (4.2 MiB): enough for the packets in flight on a busy connection. */
const KEEP = 128

/** What ssh2 1.17's binding ciphers hold that this module uses. */
interface CipherPrototype {
  allocPacket(this: unknown, payloadLen: number): Buffer
}

/** The prototype of the cipher ssh2 makes for `name` (its native binding's class), or undefined. */
export const cipherPrototype = (name: string): CipherPrototype | undefined => bindingPrototype("outbound", name) as CipherPrototype | undefined

const free: Array<ArrayBuffer> = []
/** Buffers of ours (by their memory): only these are given back after a write. */
const ours = new WeakSet<ArrayBuffer>()

/** Packets given one of our buffers, and buffers made for them (the rest were reused). */
export const sendBufferCounts = { packets: 0, made: 0 }

const takeBuffer = (size: number): Buffer => {
  // Small packets (requests, window adjustments, keystrokes) come from Node's own 8 KiB pool, as before.
  if (size < SMALL_BYTES || size > SLOT_BYTES) return Buffer.allocUnsafe(size)
  sendBufferCounts.packets++
  let memory = free.pop()
  if (memory === undefined) {
    memory = new ArrayBuffer(SLOT_BYTES)
    ours.add(memory)
    sendBufferCounts.made++
  }
  return Buffer.from(memory, 0, size)
}

const giveBack = (memory: ArrayBuffer) => {
  if (free.length < KEEP) free.push(memory)
}

/** Random bytes for padding, used once each. */
const randomPool = Buffer.allocUnsafe(4096)
let randomAt = randomPool.length

const randomPadding = (packet: Buffer, at: number, n: number) => {
  if (randomAt + n > randomPool.length) {
    randomFillSync(randomPool)
    randomAt = 0
  }
  randomPool.copy(packet, at, randomAt, randomAt + n)
  randomAt += n
}

/**
 * ssh2's `allocPacket` for an AEAD cipher whose padding aligns the packet (less its length
 * field) to `block` bytes and whose tag (16 bytes) follows it, from our buffers.
 */
const allocAead = (block: number) =>
  function allocPacket(payloadLen: number): Buffer {
    let pktLen = 4 + 1 + payloadLen
    let padLen = block - ((pktLen - 4) & (block - 1))
    if (padLen < 4) padLen += block
    pktLen += padLen
    const packet = takeBuffer(pktLen + 16)
    packet.writeUInt32BE(pktLen - 4, 0)
    packet[4] = padLen
    randomPadding(packet, 5 + payloadLen, padLen)
    return packet
  }

/** ssh2's own `allocPacket`s, kept for the test that compares them with ours. */
export const originalAllocPacket: Record<string, CipherPrototype["allocPacket"]> = {}

/**
 * The ciphers whose packets come from reused buffers (none without ssh2's native binding):
 * their binding classes patched, AES-GCM padding to 16 bytes, ChaCha20-Poly1305 to 8.
 */
export const reusingCiphers: ReadonlyArray<string> = (() => {
  const done: Array<string> = []
  for (const [name, block] of [["aes128-gcm@openssh.com", 16], ["chacha20-poly1305@openssh.com", 8]] as const) {
    const proto = cipherPrototype(name)
    if (proto === undefined) continue
    originalAllocPacket[name] = proto.allocPacket
    proto.allocPacket = allocAead(block)
    done.push(name)
  }
  return done
})()

interface Writable {
  write(chunk: unknown, ...rest: Array<unknown>): boolean
  cork?(): void
  uncork?(): void
}

/**
 * Give each packet buffer of ours back once `client`'s socket has written it. Called once
 * per connection, right after `client.connect` (which makes the socket).
 */
export const reuseSendBuffers = (client: Client): void => {
  const sock = (client as unknown as { readonly _sock: Writable | undefined })._sock
  if (sock === undefined || reusingCiphers.length === 0) return
  const write = sock.write
  // The packets of one large channel write (ssh2 cuts 1 MiB into 32) leave in one writev:
  // per GiB uploaded, ~0.1 CPU-s less of the kernel's time than a write(2) per packet.
  const coalesce = typeof sock.cork === "function" && typeof sock.uncork === "function"
  let corked = false
  const uncork = () => {
    corked = false
    sock.uncork!()
  }
  sock.write = function(this: Writable, chunk: unknown, ...rest: Array<unknown>): boolean {
    if (rest.length === 0 && chunk instanceof Uint8Array && ours.has(chunk.buffer as ArrayBuffer)) {
      const memory = chunk.buffer as ArrayBuffer
      if (coalesce && !corked) {
        corked = true
        sock.cork!()
        process.nextTick(uncork)
      }
      return write.call(this, chunk, (err: unknown) => {
        if (err === undefined || err === null) giveBack(memory)
      })
    }
    return write.call(this, chunk, ...rest)
  }
}
