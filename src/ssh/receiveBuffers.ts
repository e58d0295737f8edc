/**
 * Reused buffers for what the connection's socket reads. Node reads a TCP socket into a
 * fresh 64 KiB buffer each time, and ssh2 decrypts in place and hands channel readers views
 * of it: a gigabyte received is a gigabyte of short-lived external memory, and V8 answers it
 * with major collections (half of the server's CPU in some loopback downloads).
 *
 * Here the socket reads into buffers from a small free list (Node's `onread`), and a buffer
 * goes back only when nothing can still see it: every packet ssh2 completed while parsing
 * it was channel data for a reader that copies (`readsByCopying`: a transfer writing to
 * disk) and that reader took it at once (not queued in a paused stream), and neither ssh2's
 * parser nor its decipher keeps a view of it (a packet cut by the read's end). Anything else
 * in a read (a channel request, a job's output, stderr, the key exchange) leaves that buffer
 * to the GC, as before. Connections through a jump host or a ProxyCommand read as before.
 *
 * Relies on ssh2 1.17 internals (the client's `_protocol` and its `_decipher` with
 * `inSeqno`, one `push` per channel-data packet, a channel's `_client`):
 * test/integration/receiveBuffers.test.ts fails when they change.
 *
 * @since 0.4.0
 */
import * as Net from "node:net"
import type { Client } from "ssh2"

/** Bytes of one read (Node's own size for a TCP read). */
export const READ_BYTES = 64 * 1024

/** Free buffers kept at most (2 MiB). */
const KEEP = 32

const free: Array<Buffer> = []

/** Reads into a buffer of ours, and buffers given back after one (the rest went to the GC). */
export const receiveBufferCounts = { reads: 0, reused: 0 }

/**
 * The client whose read is being parsed, and the pushes of channel data that a copying
 * reader of ITS channels took at once meanwhile. Its own: a connection through a jump host
 * is parsed inside the jump connection's push, and its channels' pushes must not count for
 * the jump connection's buffer.
 */
let parsing: { readonly client: object; copied: number } | undefined

/** What ssh2 1.17's client holds that this module reads. */
interface ClientInternals {
  readonly _protocol?: { readonly _decipher?: { readonly inSeqno?: number } }
}

/** Whether `holder` keeps, in one of its own fields, a view of `buf`'s memory. */
const holds = (holder: object, buf: Buffer) => {
  for (const v of Object.values(holder)) if (v instanceof Uint8Array && v.buffer === buf.buffer) return true
  return false
}

/**
 * A TCP connection to `host`:`port` for ssh2's `sock`, reading into reused buffers once
 * `attach` has named its client (call it right after `client.connect`; until then every
 * read goes to the GC).
 */
export const reusingSocket = (host: string, port: number): { readonly sock: Net.Socket; attach(client: Client): void } => {
  let client: ClientInternals | undefined
  const sock: Net.Socket = Net.connect({
    host,
    port,
    onread: {
      buffer: () => free.pop() ?? Buffer.allocUnsafe(READ_BYTES),
      callback: (n: number, buf: Uint8Array) => {
        const data = buf as Buffer
        receiveBufferCounts.reads++
        const proto = client?._protocol
        const decipher = proto?._decipher
        const seqno = decipher?.inSeqno
        const outer = parsing
        const now = client === undefined ? undefined : { client, copied: 0 }
        parsing = now
        try {
          // ssh2 listens for "data" (Node does not emit it for a socket read through `onread`).
          sock.emit("data", data.subarray(0, n))
        } finally {
          parsing = outer
        }
        const copied = now?.copied
        if (
          proto !== undefined && decipher !== undefined && typeof seqno === "number" && proto._decipher === decipher &&
          ((decipher.inSeqno! - seqno) >>> 0) === copied && !holds(decipher, data) && !holds(proto, data) &&
          free.length < KEEP
        ) {
          receiveBufferCounts.reused++
          free.push(data)
        }
        return true
      }
    }
  })
  return { sock, attach: (c) => void (client = c as unknown as ClientInternals) }
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

/**
 * Mark `channel` (ssh2's) as read by one "data" listener that copies what it is handed
 * before returning and keeps no view of it: chunks it takes at once may let their socket
 * buffer be reused. A channel that is not ssh2's (a test's fake) is left as it is.
 */
export const readsByCopying = (channel: object): void => {
  if (!isPushing(channel)) return
  const push = channel.push
  channel.push = function(this: PushingChannel, chunk: unknown, encoding?: BufferEncoding): boolean {
    const more = push.call(this, chunk, encoding)
    // Emitted to the listener during the push, not queued: it has copied it already.
    if (chunk instanceof Uint8Array && this.readableLength === 0 && parsing?.client === this._client) parsing.copied++
    return more
  }
}
