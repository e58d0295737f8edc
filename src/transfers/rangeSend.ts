/**
 * An upload's bytes over lanes (rangeCommands.ts): each lane takes the next chunk of the file
 * when it needs one, reads it here piece by piece (the next piece while the channel takes
 * this one) and writes it after its `<offset> <length>` line. The file's sha256 is computed
 * here on the pieces in file order as they are read (a piece read ahead of the order waits,
 * a bounded while: a lane starts no chunk too far past the hashed prefix), and on the host by
 * the hasher as the lanes acknowledge written chunks: the prefix written so far, in order.
 * Nothing is read twice. Promise-based; the Effect side aborts through `signal`.
 *
 * @since 0.3.0
 */
import * as fs from "node:fs"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import { gate, inOrderHash, type Lane, lane, laneFailure, lines, PIECE, piecePool, said } from "./laneIo.js"
import { TransferAborted } from "./pipeline.js"
import { parseVerdict } from "./rangeCommands.js"

/**
 * How far past the hashed prefix a chunk may start, in chunks beyond one per lane: what is
 * read ahead of the hash waits in memory, so this bounds it (~(lanes + 1) chunks).
 */
const AHEAD = 1

export interface Sent {
  readonly bytes: number
  readonly sha256Local: string
  readonly sha256Remote: string | undefined
}

const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

const readAt = (fd: number, buf: Buffer, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, len, pos, (err, n) => err !== null ? reject(err) : resolve(n)))

export interface SendRanges {
  readonly lanes: ReadonlyArray<RemoteChannel>
  /** The hasher (`hasherCommand`): its verdict; told `go`, the acknowledged prefix, then the digest. */
  readonly hasher: RemoteChannel
  /** The local file (its real path; opened without following a symlink). */
  readonly file: string
  readonly size: number
  readonly chunk: number
  readonly onBytes: (n: number) => void
  readonly signal?: AbortSignal | undefined
  /** The hasher was started with `atOnce`: it is not told `go`. */
  readonly atOnce?: boolean | undefined
}

export type SentRanges =
  /** The hasher's verdict: this path does not fit (nothing was created). */
  | { readonly _tag: "NotHere"; readonly why: string }
  /** Sent; `placed`: the host's digest was ours and the file is in place (else it is removed). */
  | { readonly _tag: "Sent"; readonly sent: Sent; readonly placed: boolean }

/** What the hasher printed: its lines in order, and a wait for the next one. */
const hasherLines = () => {
  const got: Array<string> = []
  let wake: (() => void) | undefined
  return {
    onLine: (l: string) => {
      got.push(l)
      wake?.()
    },
    /** The `n`th line (0-based), or undefined once the channel closed without it. */
    line: async (n: number, closed: Promise<unknown>, isClosed: () => boolean) => {
      while (got.length <= n && !isClosed()) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), closed])
        wake = undefined
      }
      return got[n]
    }
  }
}

/**
 * Send the file over the lanes and end them; then the hasher is given our digest, and places
 * the file only when its own is the same.
 */
export const sendRanges = async (o: SendRanges): Promise<SentRanges> => {
  const { size, chunk } = o
  const chunks = Math.max(1, Math.ceil(size / chunk))
  const pool = piecePool()
  const ordered = inOrderHash(pool.release)
  const progress = gate()
  let next = 0
  const all: Array<Lane> = []
  const failure = laneFailure(all, progress)
  const fail = failure.fail
  const check = () => {
    failure.check()
    if (o.signal?.aborted === true) throw new TransferAborted("the transfer was cancelled")
  }
  const onAbort = () => fail(new TransferAborted("the transfer was cancelled"))
  o.signal?.addEventListener("abort", onAbort, { once: true })

  const printed = hasherLines()
  const hasher = lane(o.hasher, o.signal, lines(printed.onLine))
  all.push(hasher)
  const hasherLine = (n: number) => printed.line(n, hasher.closed, hasher.isClosed)

  // Chunks the lanes acknowledged as written; the hasher is told each newly complete prefix.
  const acked = new Set<number>()
  let prefix = 0
  const ack = (line: string) => {
    const offset = Number(line)
    const k = offset / chunk
    if (!Number.isInteger(k) || k < 0 || k >= next || acked.has(k)) return fail(new Error(`a lane acknowledged ${JSON.stringify(line.slice(0, 40))}, which it was not sent`))
    acked.add(k)
    o.onBytes(Math.min(chunk, size - offset))
    let told = 0
    while (acked.has(prefix)) {
      told += Math.min(chunk, size - prefix * chunk)
      prefix++
    }
    if (told > 0) hasher.write(`${told}\n`).catch(fail)
  }

  /** Hash pieces in file order (one read ahead of the order waits). */
  const offer = (at: number, piece: Buffer, buf: Buffer) => {
    ordered.offer(at, piece, buf)
    progress.wake()
  }

  const fd = await new Promise<number>((resolve, reject) =>
    fs.open(o.file, fs.constants.O_RDONLY | NOFOLLOW, (err, fd) => err !== null ? reject(err) : resolve(fd)))
  const reads = new Set<Promise<unknown>>()
  /** Read `len` bytes at `at` into a pooled piece (two users: the channel and the hash). */
  const read = (at: number, len: number) => {
    const buf = pool.take(2)
    const p = readAt(fd, buf, len, at).then((n) => {
      if (n !== len) throw new Error(`${o.file} shrank while it was being sent`)
      return { piece: buf.subarray(0, n), buf }
    })
    reads.add(p)
    p.catch(() => {}).finally(() => reads.delete(p))
    return p
  }

  const pump = async (l: Lane) => {
    for (;;) {
      // A chunk too far past the hashed prefix would hold its pieces until the hash gets there.
      await progress.until(() => next >= chunks || next * chunk - ordered.hashed <= (o.lanes.length + AHEAD) * chunk, check)
      if (next >= chunks) break
      const k = next++
      const start = k * chunk
      const end = Math.min(size, start + chunk)
      await l.write(`${start} ${end - start}\n`)
      let pos = start
      let pending = pos < end ? read(pos, Math.min(PIECE, end - pos)) : undefined
      while (pending !== undefined) {
        const { piece, buf } = await pending
        const at = pos
        pos += piece.length
        pending = pos < end ? read(pos, Math.min(PIECE, end - pos)) : undefined
        offer(at, piece, buf)
        await l.write(piece, () => pool.release(buf))
      }
    }
    l.ch.end()
  }

  try {
    // The hasher checks the target (its verdict), then creates the temporary file on our
    // word, before any lane may write into it.
    const verdict = parseVerdict(await hasherLine(0))
    check()
    if (!verdict.ok) {
      for (const ch of o.lanes) ch.close()
      return { _tag: "NotHere", why: verdict.why }
    }
    if (o.atOnce !== true) await hasher.write("go\n")
    const ready = await hasherLine(1)
    check()
    if (ready !== "ready") {
      for (const ch of o.lanes) ch.close()
      return { _tag: "NotHere", why: /^ranged (\S+)$/.exec(ready ?? "")?.[1] ?? "no answer" }
    }
    for (const ch of o.lanes) all.push(lane(ch, o.signal, lines(ack)))
    const lanes = all.slice(1)
    await Promise.all(lanes.map((l) => pump(l).catch(fail)))
    check()
    const ends = await Promise.all(lanes.map((l) => l.closed))
    check()
    const bad = ends.find((c) => c.code !== 0)
    if (bad !== undefined) throw new Error(`the host stopped writing: ${said(bad)}`)
    if (acked.size !== chunks) throw new Error(`the host acknowledged ${acked.size} of ${chunks} chunks`)
    const sha256Local = ordered.digest()
    await hasher.write(`end\n${sha256Local}\n`)
    hasher.ch.end()
    const digest = await hasherLine(2)
    const placedLine = await hasherLine(3)
    const end = await hasher.closed
    check()
    const sha256Remote = /^([0-9a-f]{64})$/.exec(digest ?? "")?.[1]
    if (sha256Remote === sha256Local && (end.code !== 0 || placedLine !== "placed")) throw new Error(`the host could not move the file into place: ${said(end)}`)
    return { _tag: "Sent", sent: { bytes: ordered.hashed, sha256Local, sha256Remote }, placed: placedLine === "placed" }
  } catch (e) {
    fail(e)
    throw failure.failed()
  } finally {
    o.signal?.removeEventListener("abort", onAbort)
    await Promise.allSettled([...reads])
    fs.close(fd, () => {})
  }
}
