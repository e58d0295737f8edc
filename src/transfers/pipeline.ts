/**
 * Pipelined SFTP copies of one file, with the sha256 computed on the bytes as they pass
 * (no second local pass): many large READ/WRITE requests in flight instead of ssh2's
 * fastPut/fastGet (32 KiB requests, hash after). Promise-based; the Effect side wraps a
 * call and aborts it through `signal` on interruption.
 *
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import type { SFTPWrapper, Stats } from "ssh2"
import { openExclusive } from "../files/privateFiles.js"
import { guarded as catching } from "../ssh/listeners.js"

/**
 * Bytes per READ/WRITE request: OpenSSH's sftp-server accepts up to 255 KiB (what it
 * advertises in `limits@openssh.com`, which ssh2 requests on its own and uses to split a
 * larger request; a server with a lower limit gets split requests, still correct).
 */
export const IO_SIZE = 255 * 1024
/** Requests in flight per file: 4 MiB, twice the SSH channel window, so the pipe never runs dry. */
export const IN_FLIGHT = 16

export interface Copied {
  readonly bytes: number
  readonly sha256: string
  /** The remote file's mode (download only). */
  readonly mode?: number | undefined
}

export interface Control {
  /** Aborts the copy (the caller removes the temporary file). */
  readonly signal?: AbortSignal | undefined
  /** Bytes done since the last call. */
  readonly onBytes?: ((n: number) => void) | undefined
  /**
   * Download only: the mode the local file ends with, from the remote file's; set on the
   * descriptor that created the file, once every byte is written (never through its path).
   */
  readonly finalMode?: ((remoteMode: number) => number) | undefined
  /** Request size and depth (tests and benchmarks; default IO_SIZE and IN_FLIGHT). */
  readonly ioSize?: number | undefined
  readonly inFlight?: number | undefined
}

/** An SFTP status error keeps its numeric `code` (2 no such file, 3 permission denied, 4 failure). */
export class TransferAborted extends Error {}

/** What a copy's body sees: `fail` ends the whole operation at once, `stopped` says it has ended. */
interface Guard {
  readonly fail: (e: unknown) => void
  readonly stopped: () => boolean
}

/**
 * Run `body` with a guard that rejects the whole operation at once when the SFTP session
 * closes (ssh2 leaves requests pending then) or the signal aborts; the body checks
 * `stopped()` before each request so that nothing more is sent after that.
 */
const guarded = <A>(sftp: SFTPWrapper, control: Control, body: (guard: Guard) => Promise<A>): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    let settled = false
    const cleanup = () => {
      settled = true
      sftp.removeListener("close", onClose)
      control.signal?.removeEventListener("abort", onAbort)
    }
    const fail = (e: unknown) => {
      if (settled) return
      cleanup()
      reject(e)
    }
    const onClose = () => fail(new TransferAborted("the connection closed during the transfer"))
    const onAbort = () => fail(new TransferAborted("the transfer was cancelled"))
    if (control.signal?.aborted === true) return onAbort()
    sftp.once("close", onClose)
    control.signal?.addEventListener("abort", onAbort, { once: true })
    body({ fail, stopped: () => settled }).then((a) => {
      if (settled) return
      cleanup()
      resolve(a)
    }, fail)
  })

const cb2p = <A>(f: (cb: (err: Error | null | undefined, a: A) => void) => void) =>
  new Promise<A>((resolve, reject) => f((err, a) => (err !== undefined && err !== null ? reject(err) : resolve(a))))

export const openRemote = (sftp: SFTPWrapper, file: string, flags: "r" | "wx", mode?: number) =>
  cb2p<Buffer>((cb) => mode === undefined ? sftp.open(file, flags, cb) : sftp.open(file, flags, { mode }, cb))

export const closeRemote = (sftp: SFTPWrapper, handle: Buffer) => cb2p<void>((cb) => sftp.close(handle, (err) => cb(err, undefined)))

const fstatRemote = (sftp: SFTPWrapper, handle: Buffer) => cb2p<Stats>((cb) => sftp.fstat(handle, cb))

/** Read `len` bytes at `pos` of a local file (fewer only at its end). */
const readLocal = (fd: number, len: number, pos: number) =>
  new Promise<Buffer>((resolve, reject) => {
    const buf = Buffer.allocUnsafe(len)
    fs.read(fd, buf, 0, len, pos, (err, n) => err !== null ? reject(err) : resolve(n === len ? buf : buf.subarray(0, n)))
  })

const fchmod = (fd: number, mode: number) =>
  new Promise<void>((resolve, reject) => fs.fchmod(fd, mode, (err) => err !== null ? reject(err) : resolve()))

const writeLocal = (fd: number, buf: Buffer, pos: number) =>
  new Promise<void>((resolve, reject) => {
    const go = (off: number): void =>
      fs.write(fd, buf, off, buf.length - off, pos + off, (err, n) =>
        err !== null ? reject(err) : off + n < buf.length ? go(off + n) : resolve())
    go(0)
  })

/**
 * Copy local file `local` to `remote`, which is created exclusively (it must not exist) with
 * mode 0600. The sha256 is of the bytes read and sent, in order, as they are sent.
 */
export const putFile = (sftp: SFTPWrapper, local: string, remote: string, control: Control = {}): Promise<Copied> =>
  guarded(sftp, control, async ({ fail, stopped }) => {
    const fd = await new Promise<number>((resolve, reject) => fs.open(local, fs.constants.O_RDONLY, (err, fd) => err !== null ? reject(err) : resolve(fd)))
    let handle: Buffer | undefined
    try {
      handle = await openRemote(sftp, remote, "wx", 0o600)
      const hash = createHash("sha256")
      const ioSize = control.ioSize ?? IO_SIZE
      const depth = control.inFlight ?? IN_FLIGHT
      let pos = 0
      let inFlight = 0
      let wake: (() => void) | undefined
      let failed: unknown
      const done = () => {
        inFlight--
        const w = wake
        wake = undefined
        w?.()
      }
      for (;;) {
        if (stopped()) throw new TransferAborted("stopped")
        const buf = await readLocal(fd, ioSize, pos)
        if (buf.length === 0) break
        hash.update(buf)
        const at = pos
        pos += buf.length
        inFlight++
        // ssh2 calls back from its parser: what the callback throws fails this copy, nowhere else.
        sftp.write(handle, buf, 0, buf.length, at, catching((e) => {
          failed ??= e
          fail(e)
        })((err: Error | null | undefined) => {
          try {
            if (err !== undefined && err !== null) {
              failed ??= err
              fail(err)
            } else control.onBytes?.(buf.length)
          } finally {
            done()
          }
        }))
        while (inFlight >= depth && failed === undefined) await new Promise<void>((r) => (wake = r))
        if (failed !== undefined) throw failed
      }
      while (inFlight > 0 && failed === undefined) await new Promise<void>((r) => (wake = r))
      if (failed !== undefined) throw failed
      const h = handle
      handle = undefined
      await closeRemote(sftp, h)
      return { bytes: pos, sha256: hash.digest("hex") }
    } finally {
      fs.close(fd, () => {})
      // Stopped half-way: release the handle (the caller removes the file).
      if (handle !== undefined) sftp.close(handle, () => {})
    }
  })

/**
 * Copy remote file `remote` to `local`, created here exclusively with mode 0600 (put it in a
 * private directory): the size fstat reports when it is opened; a short read is continued,
 * an early end of file ends the copy there (the remote sha256 then tells whether the file
 * changed meanwhile). With `finalMode`, the file is given its mode through the same
 * descriptor once complete. The local file is closed only once every write to it has
 * settled, also after an abort, so that no late write can land in a file that reuses its
 * descriptor.
 */
export const getFile = (sftp: SFTPWrapper, remote: string, local: string, control: Control = {}): Promise<Copied> =>
  guarded(sftp, control, async (guard) => {
    const fd = await openExclusive(local)
    const writes: Array<Promise<void>> = []
    try {
      const copied = await copyInto(sftp, remote, fd, writes, control, guard)
      if (control.finalMode !== undefined && copied.mode !== undefined) await fchmod(fd, control.finalMode(copied.mode))
      return copied
    } finally {
      await Promise.allSettled(writes)
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()))
    }
  })

const copyInto = async (sftp: SFTPWrapper, remote: string, fd: number, writes: Array<Promise<void>>, control: Control, { fail, stopped: ended }: Guard): Promise<Copied> => {
  const handle = await openRemote(sftp, remote, "r")
  const st = await fstatRemote(sftp, handle)
  let size = st.size
  const hash = createHash("sha256")
  const ioSize = control.ioSize ?? IO_SIZE
  const depth = control.inFlight ?? IN_FLIGHT
  /** Data received past the hashed prefix, by offset (replies come in order from OpenSSH, but need not). */
  const pending = new Map<number, Buffer>()
  let hashed = 0
  const queue: Array<{ pos: number; len: number }> = []
  for (let p = 0; p < size; p += ioSize) queue.push({ pos: p, len: Math.min(ioSize, size - p) })
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0
    let stopped = false
    const onError = (e: unknown) => {
      stopped = true
      fail(e)
      reject(e)
    }
    const pump = () => {
      if (ended()) {
        stopped = true
        sftp.close(handle, () => {})
        return reject(new TransferAborted("stopped"))
      }
      while (!stopped && inFlight < depth && queue.length > 0) {
        const { pos, len } = queue.shift()!
        if (pos >= size) continue
        inFlight++
        sftp.read(handle, Buffer.allocUnsafe(len), 0, len, pos, catching(onError)((err: Error | null | undefined, n: number, data: Buffer) => {
          inFlight--
          if (stopped) return
          if (err !== undefined && err !== null) return onError(err)
          if (n === 0) {
            size = Math.min(size, pos)
          } else {
            const chunk = n === data.length ? data : data.subarray(0, n)
            if (n < len) queue.unshift({ pos: pos + n, len: len - n })
            pending.set(pos, chunk)
            while (pending.has(hashed)) {
              const c = pending.get(hashed)!
              pending.delete(hashed)
              hash.update(c)
              hashed += c.length
            }
            writes.push(writeLocal(fd, chunk, pos).catch((e) => onError(e)))
            control.onBytes?.(n)
          }
          if (inFlight === 0 && (queue.length === 0 || queue.every((q) => q.pos >= size))) {
            stopped = true
            resolve()
          } else pump()
        }))
      }
      if (!stopped && inFlight === 0) {
        stopped = true
        resolve()
      }
    }
    pump()
  })
  await Promise.all(writes)
  await closeRemote(sftp, handle)
  return { bytes: hashed, sha256: hash.digest("hex"), mode: st.mode }
}
