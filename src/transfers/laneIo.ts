/**
 * What the lanes of a single-file transfer share: a channel's end as a promise with its
 * output, writes that wait for "drain" and fail once the channel is gone or the transfer is
 * cancelled, lines read from a channel's stdout, and pooled 1 MiB pieces. Promise-based like
 * treeStream.ts; the Effect side wraps a call and aborts it through its signal.
 *
 * @since 0.3.0
 */
import { createHash } from "node:crypto"
import type { Collected } from "../ssh/collect.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"
import { TransferAborted } from "./pipeline.js"

/** Bytes of a piece: what is read, written, hashed at once. Chunks are multiples of it. */
export const PIECE = 1024 * 1024

/** Stderr kept of a lane (quoted in an error), and stdout of one whose output is not parsed. */
const KEEP = 64 * 1024

export interface Lane {
  readonly ch: RemoteChannel
  /** Write, waiting for "drain"; fails once the channel is gone or the transfer was cancelled. */
  write(buf: Buffer | string, done?: () => void): Promise<void>
  /** Completes when the channel has closed: its exit code and stderr. */
  readonly closed: Promise<Collected>
  isClosed(): boolean
}

/**
 * A lane over `ch`: `onData` gets its stdout (else stdout is kept, up to 64 KiB), stderr is
 * kept up to 64 KiB. `signal` aborts every write.
 */
export const lane = (ch: RemoteChannel, signal: AbortSignal | undefined, onData?: (chunk: Buffer) => void): Lane => {
  const out: Array<Buffer> = []
  const err: Array<Buffer> = []
  let outBytes = 0
  let errBytes = 0
  let code: number | null = null
  let closed = false
  const wakes = new Set<() => void>()
  let finished!: (c: Collected) => void
  const done = new Promise<Collected>((resolve) => (finished = resolve))
  ch.on("data", (d: Buffer) => {
    if (onData !== undefined) return onData(d)
    if (outBytes < KEEP) out.push(d)
    outBytes += d.length
  })
  ch.stderr.on("data", (d: Buffer) => {
    if (errBytes < KEEP) err.push(d)
    errBytes += d.length
  })
  ch.on("exit", (c: number | null) => void (code = typeof c === "number" ? c : null))
  ch.on("error", () => {})
  ch.on("close", () => {
    closed = true
    for (const w of wakes) w()
    finished({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8").slice(0, KEEP), code })
  })
  const check = () => {
    if (signal?.aborted === true) throw new TransferAborted("the transfer was cancelled")
    if (closed) throw new TransferAborted("the host closed a stream early")
  }
  return {
    ch,
    closed: done,
    isClosed: () => closed,
    write: async (buf, after) => {
      check()
      if (ch.write(buf, after)) return
      await new Promise<void>((resolve) => {
        const wake = () => {
          wakes.delete(wake)
          resolve()
        }
        wakes.add(wake)
        ch.once("drain", wake)
        signal?.addEventListener("abort", wake, { once: true })
      })
      check()
    }
  }
}

/** Lines of a channel's stdout, as they complete (`onLine` for each, without the newline). */
export const lines = (onLine: (line: string) => void) => {
  let partial = ""
  return (chunk: Buffer) => {
    const text = partial + chunk.toString("latin1")
    const parts = text.split("\n")
    partial = parts.pop()!
    // A host that prints without end is cut off: nothing we wait for is this long.
    if (partial.length > KEEP) partial = ""
    for (const l of parts) onLine(l)
  }
}

/**
 * Pieces used again once the channel or the disk and the hash are done with them: a 1 GiB
 * file otherwise allocates 1 GiB of buffers, and the garbage collections that external memory
 * triggers cost more than the copy. `uses`: how many releases free a piece.
 */
export const piecePool = () => {
  const free: Array<Buffer> = []
  const uses = new WeakMap<Buffer, number>()
  return {
    take: (users: number): Buffer => {
      const buf = free.pop() ?? Buffer.allocUnsafe(PIECE)
      uses.set(buf, users)
      return buf
    },
    release: (buf: Buffer) => {
      const left = (uses.get(buf) ?? 1) - 1
      uses.set(buf, left)
      if (left === 0 && free.length < 16) free.push(buf)
    }
  }
}

/**
 * SHA-256 of pieces in file order, whatever order they come in: one ahead of the hashed
 * prefix waits (its buffer held) until the pieces before it have come; each piece's buffer
 * goes back to `release` once hashed.
 */
export const inOrderHash = (release: (buf: Buffer) => void) => {
  const hash = createHash("sha256")
  const held = new Map<number, { piece: Buffer; buf: Buffer }>()
  let hashed = 0
  const take = (piece: Buffer, buf: Buffer) => {
    hash.update(piece)
    hashed += piece.length
    release(buf)
  }
  return {
    /** Bytes hashed so far: the length of the prefix. */
    get hashed() {
      return hashed
    },
    offer: (at: number, piece: Buffer, buf: Buffer) => {
      if (at !== hashed) return void held.set(at, { piece, buf })
      take(piece, buf)
      for (let h = held.get(hashed); h !== undefined; h = held.get(hashed)) {
        held.delete(hashed)
        take(h.piece, h.buf)
      }
    },
    digest: () => hash.digest("hex")
  }
}

/** Wait until `ready()` holds, woken by `wake`. */
export const gate = () => {
  const waiting = new Set<() => void>()
  return {
    wake: () => {
      for (const w of [...waiting]) w()
    },
    until: async (ready: () => boolean, abort: () => void) => {
      while (!ready()) {
        abort()
        await new Promise<void>((resolve) => {
          const w = () => {
            waiting.delete(w)
            resolve()
          }
          waiting.add(w)
        })
      }
    }
  }
}

/**
 * The first failure of a transfer over `all` lanes: `fail` keeps it (later ones are its
 * consequences), closes every lane and wakes whoever waits on `progress`; `check` throws it.
 */
export const laneFailure = (all: ReadonlyArray<Lane>, progress: { readonly wake: () => void }) => {
  let failure: unknown
  return {
    fail: (e: unknown) => {
      failure ??= e
      for (const l of all) l.ch.close()
      progress.wake()
    },
    check: () => {
      if (failure !== undefined) throw failure
    },
    failed: () => failure
  }
}

/** The first `n` characters of what the host said on stderr, for an error. */
export const said = (c: Collected) => c.stderr.trim().slice(0, 500) || `exit ${c.code}`
