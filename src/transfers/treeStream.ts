/**
 * A tree as one tar stream over one exec channel, with the sha256 of every file computed
 * on the bytes as they pass: `sendTree` reads local files (a few ahead) and writes the
 * archive to the channel's stdin; `receiveTree` reads the archive from its stdout into
 * temporary files, refusing any entry it did not ask for. Promise-based like pipeline.ts;
 * the Effect side wraps a call and aborts it through `signal` on interruption. What the
 * host's side prints besides the archive is capped (stderr, the hashes of an unpack, bytes
 * after the archive's end): past a cap the channel is closed and the transfer fails with
 * REMOTE_OUTPUT_TOO_LARGE, and nothing our listeners throw escapes into ssh2.
 *
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import { EXCLUSIVE } from "../files/privateFiles.js"
import { BoundedChunks, type Collected, HELPER_STDERR_MAX, tooLarge } from "../ssh/collect.js"
import { guarded } from "../ssh/listeners.js"
import { readsByCopying } from "../ssh/receiveBuffers.js"
import { holdsWindow } from "../ssh/windowHold.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import { TransferAborted } from "./pipeline.js"
import { endOfArchive, fileHeader, padding, TarReader } from "./tar.js"

export interface Hashed {
  readonly bytes: number
  readonly sha256: string
  readonly mode: number
}

/** Files up to this size are read (or written) in one call, several at once. */
const SMALL = 1024 * 1024
const READ_AHEAD = 16
const BATCH = 256 * 1024
const WRITES_IN_FLIGHT = 32
/** Hold the channel's window above this many bytes not yet on disk (a window more may still come). */
const HIGH_WATER = 8 * 1024 * 1024
/**
 * Pieces kept for reuse: what a receive holds while its writes are pending (HIGH_WATER), and
 * the one filling. Those that a held window still brings beyond it go to the GC once written.
 */
const KEPT = HIGH_WATER / SMALL + 2
/** Bytes a host may send after the archive's end (tar pads to its record size, 128 KiB with -b 256). */
const TRAILING_MAX = 1024 * 1024

const C = fs.constants
const NOFOLLOW = C.O_NOFOLLOW ?? 0

/** Where the channel's stdout goes: collected up to `maxStdout` bytes, or handed to `onData`. */
type Stdout = { readonly maxStdout: number } | { readonly onData: (chunk: Buffer) => void }

/**
 * The channel's end: its output collected (within caps: `step` names the command in the
 * error), the exit code, and a `write` that waits for "drain" and fails once the channel is
 * gone or `signal` aborts (then the channel is closed). A cap passed or a listener that threw
 * closes the channel and is `failure()`; `check` throws it.
 */
const open = (ch: RemoteChannel, step: string, signal: AbortSignal | undefined, stdout: Stdout) => {
  const out = new BoundedChunks("maxStdout" in stdout ? stdout.maxStdout : 0)
  const err = new BoundedChunks(HELPER_STDERR_MAX)
  let code: number | null = null
  let closed = false
  let failure: unknown
  let wake: (() => void) | undefined
  let finished!: (c: Collected) => void
  const done = new Promise<Collected>((resolve) => (finished = resolve))
  const stop = (e: unknown) => {
    failure ??= e
    ch.close()
    wake?.()
  }
  const safe = guarded(stop)
  ch.on("data", safe((d: Buffer) => {
    if (failure !== undefined) return
    if ("onData" in stdout) stdout.onData(d)
    else if (!out.push(d)) stop(tooLarge(step, "stdout", stdout.maxStdout))
  }))
  ch.stderr.on("data", safe((d: Buffer) => {
    if (failure === undefined && !err.push(d)) stop(tooLarge(step, "stderr", HELPER_STDERR_MAX))
  }))
  ch.on("exit", safe((c: number | null) => void (code = typeof c === "number" ? c : null)))
  ch.on("error", () => {})
  ch.on("close", () => {
    closed = true
    wake?.()
    let collected: Collected = { stdout: "", stderr: "", code }
    try {
      collected = { stdout: out.text(), stderr: err.text(), code }
    } catch (e) {
      failure ??= e
    }
    finished(collected)
  })
  const aborted = () => signal?.aborted === true
  const onAbort = () => {
    ch.close()
    wake?.()
  }
  signal?.addEventListener("abort", onAbort, { once: true })
  const check = () => {
    if (aborted()) throw new TransferAborted("the transfer was cancelled")
    if (failure !== undefined) throw failure
    if (closed) throw new TransferAborted("the host closed the stream early")
  }
  const write = async (buf: Buffer, done?: () => void) => {
    check()
    if (ch.write(buf, done)) return
    await new Promise<void>((resolve) => {
      wake = resolve
      ch.once("drain", resolve)
    })
    wake = undefined
    check()
  }
  const release = () => signal?.removeEventListener("abort", onAbort)
  /** After `done`: throws when cancelled, or when a cap was passed or a listener threw. */
  const checkAborted = () => {
    if (aborted()) throw new TransferAborted("the transfer was cancelled")
    if (failure !== undefined) throw failure
  }
  return { write, done, check, checkAborted, release, closed: () => closed, failure: () => failure }
}

/**
 * Pieces of large files, used again once the channel or the disk is done with them: a
 * 1 GiB file otherwise allocates 1 GiB of buffers, and the garbage collections that
 * external memory triggers cost more than the copy (a quarter of an upload's CPU).
 */
const bufferPool = () => {
  const free: Array<Buffer> = []
  return {
    take: () => free.pop() ?? Buffer.allocUnsafe(SMALL),
    give: (buf: Buffer) => void (free.length < KEPT && free.push(buf))
  }
}

export interface LocalFile {
  readonly rel: string
  readonly path: string
  readonly mode: number
}

/** A whole small file, never through a symlink (callback fs: cheaper than FileHandle for thousands of files). */
const readWhole = (file: LocalFile) =>
  new Promise<Buffer>((resolve, reject) => fs.readFile(file.path, { flag: C.O_RDONLY | NOFOLLOW }, (err, data) => err !== null ? reject(err) : resolve(data)))

/**
 * Write `files` as a tar stream to `ch` (then end its stdin) and wait for it to close: the
 * hashes of what was sent, by rel, and what the command printed (`output`: what the command
 * is, for an error, and the most it may print on stdout).
 */
export const sendTree = async (
  ch: RemoteChannel,
  files: ReadonlyArray<LocalFile>,
  sizes: ReadonlyArray<number>,
  onBytes: (n: number) => void,
  output: { readonly step: string; readonly maxStdout: number },
  signal?: AbortSignal
) => {
  const io = open(ch, output.step, signal, { maxStdout: output.maxStdout })
  const buffers = bufferPool()
  const ahead = new Map<number, Promise<Buffer>>()
  // Small files go out in batches: fewer, fuller SSH packets than one write per file.
  let batch: Array<Buffer> = []
  let batched = 0
  const flush = async () => {
    if (batched === 0) return
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched)
    batch = []
    batched = 0
    await io.write(out)
  }
  try {
    const sent = new Map<string, Hashed>()
    const prefetch = (i: number) => {
      if (i < files.length && !ahead.has(i) && sizes[i]! <= SMALL) ahead.set(i, readWhole(files[i]!))
    }
    for (let i = 0; i < READ_AHEAD; i++) prefetch(i)
    for (let i = 0; i < files.length; i++) {
      io.check()
      const f = files[i]!
      const hash = createHash("sha256")
      let bytes = 0
      const small = ahead.get(i)
      ahead.delete(i)
      prefetch(i + READ_AHEAD)
      if (small !== undefined) {
        const data = await small
        hash.update(data)
        bytes = data.length
        const header = fileHeader(f.rel, data.length, f.mode)
        const pad = padding(data.length)
        batch.push(header, data, pad)
        batched += header.length + data.length + pad.length
        if (batched >= BATCH) await flush()
        onBytes(bytes)
      } else {
        await flush()
        const h = await fsp.open(f.path, C.O_RDONLY | NOFOLLOW)
        let next: Promise<{ buf: Buffer; n: number }> | undefined
        try {
          const size = (await h.stat()).size
          await io.write(fileHeader(f.rel, size, f.mode))
          // The next piece is read while the channel takes this one.
          const read = (at: number) => {
            const buf = buffers.take()
            const piece = h.read(buf, 0, Math.min(buf.length, size - at), at).then(({ bytesRead }) => ({ buf, n: bytesRead }))
            // It may fail while a write is awaited: handled here, its error thrown where it is awaited.
            piece.catch(() => {})
            return piece
          }
          next = size > 0 ? read(0) : undefined
          while (next !== undefined) {
            const { buf, n } = await next
            next = undefined
            if (n === 0) throw new Error(`${f.path} shrank while it was being sent`)
            const part = buf.subarray(0, n)
            hash.update(part)
            bytes += n
            if (bytes < size) next = read(bytes)
            await io.write(part, () => buffers.give(buf))
            onBytes(n)
          }
          await io.write(padding(size))
        } finally {
          await next?.catch(() => {})
          await h.close()
        }
      }
      sent.set(f.rel, { bytes, sha256: hash.digest("hex"), mode: f.mode })
    }
    await flush()
    await io.write(endOfArchive())
    ch.end()
    const result = await io.done
    io.checkAborted()
    return { sent, result }
  } catch (e) {
    const byHost = io.closed() && signal?.aborted !== true && io.failure() === undefined
    ch.close()
    // Let the reads started ahead settle before the caller removes anything.
    await Promise.allSettled(ahead.values())
    if (byHost) {
      // The host's side stopped (tar failed, no space left …): its words say more than ours.
      const r = await io.done
      throw new Error(`the host stopped reading (exit ${r.code}): ${r.stderr.trim().slice(0, 500)}`)
    }
    throw e
  } finally {
    io.release()
  }
}

/** Where `receiveTree` writes a file it expects. */
export interface Expected {
  readonly temp: string
}

/**
 * Create `file` exclusively (0600, never through a symlink) holding `data`, then give it
 * `mode` through the same descriptor.
 */
const writeNew = (file: string, data: Buffer, mode: number) =>
  new Promise<void>((resolve, reject) =>
    fs.open(file, EXCLUSIVE, 0o600, (err, fd) => {
      if (err !== null) return reject(err)
      const done = (e: Error | null) => fs.close(fd, (c) => (e ?? c) !== null ? reject(e ?? c) : resolve())
      const go = (off: number): void =>
        off >= data.length
          ? fs.fchmod(fd, mode, done)
          : fs.write(fd, data, off, data.length - off, off, (e, n) => e !== null ? done(e) : go(off + n))
      go(0)
    }))

/**
 * Read the tar stream of `ch` (after sending `stdin`) into the temporary files of
 * `expected` (by rel), each created exclusively with mode 0600 and, once complete, given
 * `finalMode(the archive's mode)` through the descriptor that wrote it; an entry not expected, seen
 * twice, or not a regular file fails the whole transfer, as does more than `TRAILING_MAX`
 * bytes after the archive's end (`step` names the command in that error). Every write has
 * settled when this returns or fails.
 */
export const receiveTree = async (
  ch: RemoteChannel,
  stdin: string,
  expected: ReadonlyMap<string, Expected>,
  onBytes: (n: number) => void,
  step: string,
  finalMode: (hostMode: number) => number,
  signal?: AbortSignal
) => {
  const got = new Map<string, Hashed>()
  const writes = new Set<Promise<void>>()
  let failure: unknown
  let pending = 0
  let paused = false
  const fail = (e: unknown) => {
    failure ??= e
    ch.close()
  }
  // Too many bytes pending: the host's window is held (ssh2's channel; up to a window more
  // comes, copied as it comes, so socket reads stay reusable). Too many writes (small files,
  // each a file open until written), or a channel that cannot hold: paused.
  const hold = holdsWindow(ch)
  const flow = () => {
    const full = pending > HIGH_WATER
    const over = writes.size >= WRITES_IN_FLIGHT || (full && hold === undefined)
    hold?.(full)
    if (over && !paused) ch.pause?.()
    else if (!over && paused) ch.resume?.()
    paused = over
  }
  const track = (p: Promise<void>, bytes: number) => {
    pending += bytes
    const t = p.then(() => onBytes(bytes), fail).finally(() => {
      writes.delete(t)
      pending -= bytes
      flow()
    })
    writes.add(t)
    flow()
  }
  const buffers = bufferPool()
  let cur: {
    rel: string
    temp: string
    mode: number
    hash: ReturnType<typeof createHash>
    size: number
    bytes: number
    parts: Array<Buffer>
    /** A large file: its handle once open. */
    opened?: Promise<fsp.FileHandle>
    /**
     * A large file's writes not yet settled: each piece is written at its place as soon as
     * it is full, not after the one before (a chain of writes fell behind the channel, which
     * then paused hundreds of times a gigabyte).
     */
    writing: Set<Promise<void>>
    /** A large file's piece being filled, written when full (fewer, larger writes). */
    piece: Buffer | undefined
    filled: number
  } | undefined
  /** Write the large file's filled piece at its place, and give the piece back once written. */
  const writePiece = (f: NonNullable<typeof cur>) => {
    const piece = f.piece!
    const n = f.filled
    const at = f.bytes - n
    f.piece = undefined
    f.filled = 0
    const write = f.opened!.then(async (h) => {
      let off = 0
      while (off < n) off += (await h.write(piece, off, n - off, at + off)).bytesWritten
    })
    f.writing.add(write)
    const settled = () => void f.writing.delete(write)
    write.then(settled, settled)
    track(write.then(() => buffers.give(piece)), n)
  }
  /** Once a large file's writes have settled: its handle, to close (the writes' failures are tracked on their own). */
  const afterWrites = async (f: NonNullable<typeof cur>) => {
    await Promise.allSettled([...f.writing])
    return await f.opened!
  }
  const reader = new TarReader((e) => {
    if (e.type === "file") {
      const want = expected.get(e.name)
      if (want === undefined) throw new Error(`the host sent ${JSON.stringify(e.name.slice(0, 200))}, which was not asked for`)
      if (got.has(e.name)) throw new Error(`the host sent ${JSON.stringify(e.name.slice(0, 200))} twice`)
      got.set(e.name, { bytes: 0, sha256: "", mode: e.mode })
      cur = { rel: e.name, temp: want.temp, mode: e.mode, hash: createHash("sha256"), size: e.size, bytes: 0, parts: [], writing: new Set(), piece: undefined, filled: 0 }
      if (e.size > SMALL) cur.opened = fsp.open(want.temp, EXCLUSIVE, 0o600)
    } else if (e.type === "data") {
      const f = cur!
      f.hash.update(e.chunk)
      if (f.opened === undefined) {
        f.parts.push(Buffer.from(e.chunk))
        f.bytes += e.chunk.length
        return
      }
      let at = 0
      while (at < e.chunk.length) {
        f.piece ??= buffers.take()
        const n = e.chunk.copy(f.piece, f.filled, at)
        f.filled += n
        f.bytes += n
        at += n
        if (f.filled === f.piece.length) writePiece(f)
      }
    } else {
      const f = cur!
      cur = undefined
      got.set(f.rel, { bytes: f.bytes, sha256: f.hash.digest("hex"), mode: f.mode })
      const mode = finalMode(f.mode)
      if (f.opened === undefined) track(writeNew(f.temp, Buffer.concat(f.parts), mode), f.bytes)
      else {
        if (f.filled > 0) writePiece(f)
        track(afterWrites(f).then(async (h) => {
          try {
            await h.chmod(mode)
          } finally {
            await h.close()
          }
        }), 0)
      }
    }
  })
  let trailing = 0
  // Every chunk is copied (into pieces, a header, a small file's parts) before onData returns.
  readsByCopying(ch)
  const io = open(ch, step, signal, {
    onData: (chunk) => {
      // Cancelled: what is still in flight is not written (the directories are about to go).
      if (failure !== undefined || signal?.aborted === true) return
      if (reader.ended) {
        trailing += chunk.length
        if (trailing > TRAILING_MAX) fail(tooLarge(`${step} (past the archive's end)`, "stdout", TRAILING_MAX))
        return
      }
      try {
        reader.feed(chunk)
      } catch (e) {
        fail(e)
      }
    }
  })
  try {
    ch.end(stdin)
    const result = await io.done
    await Promise.allSettled([...writes])
    // A file still open (the stream broke off inside it) is closed before anything is removed.
    if (cur?.opened !== undefined) await afterWrites(cur).then((h) => h.close(), () => {})
    io.checkAborted()
    if (failure !== undefined) throw failure
    if (result.code === 0) reader.finish()
    return { got, result }
  } catch (e) {
    await Promise.allSettled([...writes])
    throw failure ?? io.failure() ?? e
  } finally {
    io.release()
  }
}
