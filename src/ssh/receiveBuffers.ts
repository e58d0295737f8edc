/**
 * Reused buffers for what the connection's socket reads. Node reads a TCP socket into a
 * fresh 64 KiB buffer each time, and ssh2 decrypts in place and hands channel readers views
 * of it: a gigabyte received is a gigabyte of short-lived external memory, and V8 answers it
 * with major collections (half of the server's CPU in some loopback downloads).
 *
 * Here the socket reads into buffers from a small free list (Node's `onread`), and a buffer
 * goes back only when nothing can still see it: every packet ssh2 completed while parsing
 * it was either channel data for a reader that copies (`readsByCopying`: a transfer writing
 * to disk, a job's stdout going into its line store) that took it at once (not queued in a
 * paused stream), or a window adjustment (parsed into two numbers: all that an upload's
 * reads bring, one per ~96 KiB sent); and neither ssh2's parser nor its decipher keeps a
 * view of it (a packet cut by the read's end). Anything else in a read (a channel request, stderr,
 * the output of an `ssh_exec` that collects its chunks, the key exchange) leaves that
 * buffer to the GC, as before. Connections through a jump host or a ProxyCommand read as before.
 *
 * With AES-GCM (whose packet lengths travel in clear) ssh2 is handed whole packets only: a
 * read's cut packet is carried to the start of the next read's buffer instead of being
 * parsed. ssh2 would otherwise allocate a buffer for each packet that two reads share (with
 * 32 KiB packets and 64 KiB reads, half a gigabyte per gigabyte received, whoever reads the
 * channel) and copy both parts into it; here the cut part is copied once, into a buffer
 * that is reused. Bytes are only ever delayed, never reordered: should the decipher stop
 * being AES-GCM's, what is carried goes to ssh2 at once and the connection reads as before.
 *
 * Relies on ssh2 1.17 internals (the client's `_protocol` and its `_decipher` with
 * `inSeqno`, the AES-GCM decipher's packet state, one `push` per channel-data packet, a
 * channel's `_client`, the protocol's `_handlers.CHANNEL_WINDOW_ADJUST`):
 * test/integration/receiveBuffers.test.ts fails when they change.
 *
 * @since 0.4.0
 */
import * as Net from "node:net"
import type { Client } from "ssh2"
import { bindingPrototype } from "./ssh2Crypto.js"

/** Bytes of one read (Node's own size for a TCP read). */
export const READ_BYTES = 64 * 1024

/** Free buffers kept at most (2 MiB). */
const KEEP = 32

const free: Array<Buffer> = []

/**
 * Reads into a buffer of ours, buffers given back after one (the rest went to the GC), and
 * reads that left ssh2 part of a packet to keep (after AES-GCM began: each one a buffer ssh2
 * allocated).
 */
export const receiveBufferCounts = { reads: 0, reused: 0, cut: 0 }

/** ssh2's largest packet (`MAX_PACKET_SIZE` in lib/protocol/crypto.js): what is longer is refused. */
const MAX_PACKET = 35000

/** What ssh2 1.17's AES-GCM decipher keeps of the packet it is reading. */
interface GcmState {
  readonly _len: number
  readonly _lenBytes: number
  readonly _pktLen: number
  readonly _tagPos: number
}

/** The prototype of ssh2's AES-GCM decipher (its native binding's; both key sizes), or undefined. */
export const gcmDecipher: object | undefined = bindingPrototype("inbound", "aes128-gcm@openssh.com")

/** Where the next packet starts in what comes next, for a decipher of AES-GCM; undefined when unknown. */
const nextPacketAt = (decipher: object): number | undefined => {
  if (gcmDecipher === undefined || Object.getPrototypeOf(decipher) !== gcmDecipher) return undefined
  const d = decipher as GcmState
  if (d._lenBytes === 0) return 0
  // Part of the length field: rare enough to let ssh2 take the read whole.
  if (d._lenBytes < 4) return undefined
  return d._len - d._pktLen + 16 - d._tagPos
}

/** The end of the last whole AES-GCM packet (length, body, 16-byte tag) in `data` from `at`; its length when a length is not one ssh2 takes (it will say so). */
const wholePacketsEnd = (data: Buffer, at: number): number => {
  let p = at
  if (p >= data.length) return data.length
  while (p + 4 <= data.length) {
    const len = data.readUInt32BE(p)
    if (len < 16 || (len & 15) !== 0 || len + 20 > MAX_PACKET) return data.length
    if (p + 4 + len + 16 > data.length) break
    p += 4 + len + 16
  }
  return p
}

/**
 * The client whose read is being parsed, and its packets parsed meanwhile that leave no view
 * of the read: pushes of channel data that a copying reader of ITS channels took at once,
 * and window adjustments. Its own: a connection through a jump host is parsed inside the
 * jump connection's push, and its channels' packets must not count for the jump
 * connection's buffer.
 */
let parsing: { readonly client: object; copied: number } | undefined

/** What ssh2 1.17's client holds that this module reads. */
interface ClientInternals {
  readonly _protocol?: {
    readonly _decipher?: { readonly inSeqno?: number }
    readonly _handlers?: Record<string, unknown>
  }
}

/**
 * Count `client`'s window adjustments as packets that leave no view of their read: ssh2
 * parses one into a channel number and an amount before its handler runs.
 */
const countWindowAdjusts = (client: ClientInternals) => {
  const handlers = client._protocol?._handlers
  const adjust = handlers?.CHANNEL_WINDOW_ADJUST
  if (handlers === undefined || typeof adjust !== "function") return
  handlers.CHANNEL_WINDOW_ADJUST = function(this: unknown, ...args: Array<unknown>) {
    if (parsing?.client === client) parsing.copied++
    return adjust.apply(this, args)
  }
}

/** Whether `holder` keeps, in one of its own fields, a view of `buf`'s memory. */
const holds = (holder: object, buf: Buffer) => {
  const memory = buf.buffer
  // for…in, not Object.values: no array per call (this runs twice per socket read).
  for (const key in holder) {
    const v = (holder as Record<string, unknown>)[key]
    if (v instanceof Uint8Array && v.buffer === memory) return true
  }
  return false
}

/**
 * A TCP connection to `host`:`port` for ssh2's `sock`, reading into reused buffers once
 * `attach` has named its client (call it right after `client.connect`; until then every
 * read goes to the GC).
 */
export const reusingSocket = (host: string, port: number): { readonly sock: Net.Socket; attach(client: Client): void } => {
  let client: ClientInternals | undefined
  // The buffer being read into, whose first `carried` bytes are the cut packet of the read before.
  let reading = free.pop() ?? Buffer.allocUnsafe(READ_BYTES)
  let carried = 0
  // Set once the decipher is no longer AES-GCM's: ssh2 takes every read whole from then on.
  let whole = false
  /** ssh2 listens for "data" (Node does not emit it for a socket read through `onread`). */
  const parse = (bytes: Buffer) => {
    const outer = parsing
    const now = client === undefined ? undefined : { client, copied: 0 }
    parsing = now
    try {
      sock.emit("data", bytes)
    } finally {
      parsing = outer
    }
    return now?.copied
  }
  const sock: Net.Socket = Net.connect({
    host,
    port,
    onread: {
      buffer: () => carried === 0 ? reading : reading.subarray(carried),
      callback: (n: number) => {
        const memory = reading
        const data = memory.subarray(0, carried + n)
        receiveBufferCounts.reads++
        const proto = client?._protocol
        const decipher = proto?._decipher
        const seqno = decipher?.inSeqno
        const at = whole || decipher === undefined ? undefined : nextPacketAt(decipher)
        const end = at === undefined ? data.length : wholePacketsEnd(data, at)
        let copied = end > 0 ? parse(data.subarray(0, end)) : 0
        const after = proto?._decipher
        const afterAt = after === undefined ? undefined : nextPacketAt(after)
        if (at !== undefined && afterAt === undefined) {
          // No longer AES-GCM's (or not where we counted): hand over what was kept back, and keep nothing back again.
          whole = true
          if (end < data.length) {
            parse(data.subarray(end))
            copied = undefined // two parses: this buffer is not counted, and goes to the GC
          }
        } else if (afterAt !== undefined && afterAt !== 0) receiveBufferCounts.cut++
        carried = whole ? 0 : data.length - end
        reading = free.pop() ?? Buffer.allocUnsafe(READ_BYTES)
        if (carried > 0) data.copy(reading, 0, end)
        if (
          proto !== undefined && decipher !== undefined && typeof seqno === "number" && proto._decipher === decipher &&
          ((decipher.inSeqno! - seqno) >>> 0) === copied && !holds(decipher, memory) && !holds(proto, memory) &&
          free.length < KEEP
        ) {
          receiveBufferCounts.reused++
          free.push(memory)
        }
        return true
      }
    }
  })
  return {
    sock,
    attach: (c) => {
      client = c as unknown as ClientInternals
      countWindowAdjusts(client)
    }
  }
}

/** What a reader needs of ssh2's channel for `readsByCopying`. */
interface PushingChannel {
  push(chunk: unknown, encoding?: BufferEncoding): boolean
  readonly readableLength: number
  /** The client it belongs to. */
  readonly _client: object
}

const isPushing = (ch: object): ch is PushingChannel =>
  typeof (ch as Partial<PushingChannel>).push === "function" && typeof (ch as Partial<PushingChannel>).readableLength === "number" &&
  typeof (ch as Partial<PushingChannel>)._client === "object"

const always = () => true

/**
 * Mark `channel` (ssh2's) as read by one "data" listener that copies what it is handed
 * before returning and keeps no view of it, whenever `copies()` says so as a chunk comes
 * (a job's output while no caller collects the chunks themselves): chunks it takes at once
 * may let their socket buffer be reused. A channel that is not ssh2's (a test's fake) is
 * left as it is.
 */
export const readsByCopying = (channel: object, copies: () => boolean = always): void => {
  if (!isPushing(channel)) return
  const push = channel.push
  channel.push = function(this: PushingChannel, chunk: unknown, encoding?: BufferEncoding): boolean {
    const copying = copies()
    const more = push.call(this, chunk, encoding)
    // Emitted to the listener during the push, not queued: it has copied it already.
    if (copying && chunk instanceof Uint8Array && this.readableLength === 0 && parsing?.client === this._client) parsing.copied++
    return more
  }
}
