/**
 * A download's bytes over lanes (rangeCommands.ts, `readerCommand`): each lane is asked for
 * ranges of the file (`<offset> <length>`, two at a time so it never waits a round trip for
 * the next) and prints exactly their bytes, in order. What arrives is gathered into 1 MiB
 * pieces, each written here at its offset into the temporary file and hashed in file order:
 * a piece that arrives ahead of the order waits in memory, a bounded while (no range is asked
 * for too far past the hashed prefix, nor while much waits for the disk), so a lane that runs
 * ahead is held back. The host's hasher (`sourceHasherCommand`) first says whether the file
 * can come this way (and its size and mode), then reads it alongside the lanes and prints its
 * digest. Nothing is read twice, nothing buffered whole. Lanes join as they open (one may
 * need a new connection). Promise-based; the Effect side aborts through `signal`.
 *
 * @since 0.3.0
 */
import * as fs from "node:fs"
import { openExclusive } from "../files/privateFiles.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import { readsByCopying } from "../ssh/receiveBuffers.js"
import { gate, inOrderHash, type Lane, lane, laneFailure, lines, PIECE, piecePool, said } from "./laneIo.js"
import { TransferAborted } from "./pipeline.js"
import { parseSourceVerdict } from "./rangeCommands.js"

/** Ranges asked of a lane at once: the next is under way while this one arrives. */
const DEPTH = 2

/** Bytes written to the disk not yet done, past which no more ranges are asked for. */
const WRITING_MAX = 32 * PIECE

export interface ReceiveRanges {
  /** The lanes (`readerCommand`), each used once it has opened. */
  readonly lanes: ReadonlyArray<Promise<RemoteChannel>>
  /** The temporary file, created here exclusively (0600; put it in a private directory). */
  readonly temp: string
  /** The file's size as the verdict said (a file that changes since fails verification). */
  readonly size: number
  readonly chunk: number
  /** The mode the file ends with, set through its descriptor once every byte is written. */
  readonly mode: number
  readonly onBytes: (n: number) => void
  readonly signal?: AbortSignal | undefined
}

/** Received into `temp`; equal digests: verified. */
export interface ReceivedRanges {
  readonly bytes: number
  readonly sha256Local: string
  readonly sha256Remote: string | undefined
}

const writeAt = (fd: number, buf: Buffer, pos: number) =>
  new Promise<void>((resolve, reject) => {
    const go = (off: number): void =>
      fs.write(fd, buf, off, buf.length - off, pos + off, (err, n) => err !== null ? reject(err) : off + n < buf.length ? go(off + n) : resolve())
    go(0)
  })

interface Range {
  readonly start: number
  readonly len: number
  got: number
}

/**
 * A download over lanes from `hasher` (`sourceHasherCommand`): `verdict` is its first line
 * (the file's size and mode, or why not), `receive` the transfer once it is told `go`. Each
 * is aborted by its signal, which closes every channel.
 */
export const rangeReceiver = (hasherChannel: RemoteChannel) => {
  const progress = gate()
  const got: Array<string> = []
  const hasher = lane(hasherChannel, undefined, lines((l) => {
    got.push(l)
    progress.wake()
  }))
  void hasher.closed.then(() => progress.wake())
  const all: Array<Lane> = [hasher]
  const { fail, check, failed } = laneFailure(all, progress)
  const watch = async <A>(signal: AbortSignal | undefined, run: () => Promise<A>): Promise<A> => {
    const onAbort = () => fail(new TransferAborted("the transfer was cancelled"))
    if (signal?.aborted === true) onAbort()
    signal?.addEventListener("abort", onAbort, { once: true })
    try {
      return await run()
    } finally {
      signal?.removeEventListener("abort", onAbort)
    }
  }
  const hasherLine = async (n: number) => {
    await progress.until(() => got.length > n || hasher.isClosed(), check)
    return got[n]
  }
  const shared: Shared = { hasher, hasherLine, all, fail, check, progress, failed }
  return {
    verdict: (signal?: AbortSignal) => watch(signal, async () => parseSourceVerdict(await hasherLine(0))),
    receive: (o: ReceiveRanges) => watch(o.signal, () => receiveOver(o, shared))
  }
}

interface Shared {
  readonly hasher: Lane
  readonly hasherLine: (n: number) => Promise<string | undefined>
  readonly all: Array<Lane>
  readonly fail: (e: unknown) => void
  readonly check: () => void
  readonly progress: ReturnType<typeof gate>
  readonly failed: () => unknown
}

const receiveOver = async (o: ReceiveRanges, x: Shared): Promise<ReceivedRanges> => {
  const { size, chunk } = o
  const { hasher, hasherLine, all, fail, check, progress } = x
  const chunks = Math.ceil(size / chunk)
  const pool = piecePool()
  const ordered = inOrderHash(pool.release)
  let next = 0
  let writing = 0
  let fd: number | undefined
  const writes = new Set<Promise<void>>()
  try {
    fd = await openExclusive(o.temp)
    const out = fd
    check()
    await hasher.write("go\n")

    const offer = ordered.offer
    /** A complete piece: written at its place and hashed (two users of its buffer). */
    const emit = (at: number, buf: Buffer, len: number) => {
      const piece = buf.subarray(0, len)
      writing += len
      const w = writeAt(out, piece, at).then(() => {
        writing -= len
        pool.release(buf)
        o.onBytes(len)
        feed()
        progress.wake()
      }, fail)
      writes.add(w)
      void w.finally(() => writes.delete(w))
      offer(at, piece, buf)
      feed()
      progress.wake()
    }

    interface Reader {
      lane: Lane | undefined
      readonly asked: Array<Range>
      /** The piece being gathered: its buffer, offset in the file, bytes so far. */
      cur: { buf: Buffer; at: number; fill: number } | undefined
    }
    const readers: Array<Reader> = []
    const onData = (r: Reader) => (d: Buffer) => {
      let off = 0
      while (off < d.length) {
        const range = r.asked[0]
        if (range === undefined) return fail(new Error("a lane sent more than it was asked for"))
        r.cur ??= { buf: pool.take(2), at: range.start + range.got, fill: 0 }
        const cur = r.cur
        const pieceLen = Math.min(PIECE, range.start + range.len - cur.at)
        const n = Math.min(d.length - off, pieceLen - cur.fill)
        d.copy(cur.buf, cur.fill, off, off + n)
        cur.fill += n
        off += n
        range.got += n
        if (cur.fill === pieceLen) {
          r.cur = undefined
          emit(cur.at, cur.buf, pieceLen)
        }
        if (range.got === range.len) {
          r.asked.shift()
          feed()
        }
      }
    }
    let ended = false
    /** Ask lanes for ranges while they have room and the window allows; end them once all are asked for. */
    const feed = () => {
      if (x.failed() !== undefined || ended) return
      for (const r of readers) {
        while (r.asked.length < DEPTH && next < chunks && writing <= WRITING_MAX && next * chunk - ordered.hashed < 2 * o.lanes.length * chunk) {
          const start = next++ * chunk
          const len = Math.min(chunk, size - start)
          r.asked.push({ start, len, got: 0 })
          r.lane!.write(`${start} ${len}\n`).catch(fail)
        }
      }
      if (next >= chunks) {
        ended = true
        for (const r of readers) r.lane!.ch.end()
      }
    }
    /** A lane has opened: it joins (or, every range asked for already, ends at once). */
    const join = (ch: RemoteChannel) => {
      const r: Reader = { lane: undefined, asked: [], cur: undefined }
      // onData copies every chunk into pieces before it returns.
      readsByCopying(ch)
      const l = lane(ch, undefined, onData(r))
      r.lane = l
      all.push(l)
      if (x.failed() !== undefined) return void ch.close()
      readers.push(r)
      // A lane that ends before its ranges came (or before it was told there are no more) failed.
      void l.closed.then((c) => {
        if (r.asked.length > 0 || !ended) fail(new Error(`the host stopped reading: ${said(c)}`))
      })
      if (ended) ch.end()
      else feed()
    }
    for (const p of o.lanes) p.then(join, fail)
    feed()
    await progress.until(() => ordered.hashed === size && writing === 0, check)
    const sha256Local = ordered.digest()
    const digest = await hasherLine(1)
    check()
    const sha256Remote = /^([0-9a-f]{64})$/.exec(digest ?? "")?.[1]
    if (sha256Remote === undefined) {
      const end = await hasher.closed
      throw new Error(`the host could not hash the file: ${said(end)}`)
    }
    await new Promise<void>((resolve, reject) => fs.fchmod(out, o.mode, (err) => err !== null ? reject(err) : resolve()))
    return { bytes: ordered.hashed, sha256Local, sha256Remote }
  } catch (e) {
    fail(e)
    throw x.failed()
  } finally {
    for (const l of all) l.ch.close()
    // Closed only once every write has settled: no late write may land in a reused descriptor.
    await Promise.allSettled([...writes])
    if (fd !== undefined) {
      const f = fd
      await new Promise<void>((resolve) => fs.close(f, () => resolve()))
    }
  }
}
