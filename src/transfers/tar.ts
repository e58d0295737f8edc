/**
 * A minimal tar (ustar with pax `path` / `size` records) writer and a streaming reader, for
 * moving a whole tree over one exec channel to and from the host's `tar`. Only what the
 * transfers need: regular files (and directories, skipped) are read; links, devices, FIFOs
 * and anything else are refused, as are names that are absolute, have a ".." or empty
 * component (the caller checks names against what it asked for as well).
 *
 * @since 0.2.0
 */

export const BLOCK = 512

/** An archive the host sent that we will not read; the message says why. */
export class TarError extends Error {}

const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0"
const MAX_OCTAL_SIZE = 0o77777777777

/** A pax record "<len> key=value\n", its length counting its own digits. */
const paxRecord = (key: string, value: string) => {
  const body = Buffer.byteLength(` ${key}=${value}\n`)
  let len = body + String(body).length
  if (String(len).length !== String(body).length) len = body + String(len).length
  return Buffer.from(`${len} ${key}=${value}\n`)
}

const ustarHeader = (name: Buffer, size: number, mode: number, type: string): Buffer => {
  const h = Buffer.alloc(BLOCK)
  name.copy(h, 0, 0, Math.min(name.length, 100))
  h.write(octal(mode & 0o7777, 8), 100, "ascii")
  h.write(octal(0, 8), 108, "ascii")
  h.write(octal(0, 8), 116, "ascii")
  h.write(octal(size <= MAX_OCTAL_SIZE ? size : 0, 12), 124, "ascii")
  h.write(octal(0, 12), 136, "ascii")
  h.write("        ", 148, "ascii")
  h.write(type, 156, "ascii")
  h.write("ustar\u000000", 257, "ascii")
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii")
  return h
}

/** Zero bytes from `size` up to the next block boundary. */
export const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK)

/** The end of an archive: two zero blocks. */
export const endOfArchive = (): Buffer => Buffer.alloc(2 * BLOCK)

/**
 * The header block(s) of a regular file `name` ("/"-separated, relative) of `size` bytes:
 * a pax header first when the name does not fit ustar's 100 bytes or is not plain ASCII,
 * or the size does not fit 11 octal digits.
 */
export const fileHeader = (name: string, size: number, mode: number): Buffer => {
  const bytes = Buffer.from(name)
  const plain = bytes.length <= 100 && !bytes.some((b) => b > 0x7e || b < 0x20)
  if (plain && size <= MAX_OCTAL_SIZE) return ustarHeader(bytes, size, mode, "0")
  const records = Buffer.concat([paxRecord("path", name), ...(size > MAX_OCTAL_SIZE ? [paxRecord("size", String(size))] : [])])
  return Buffer.concat([
    ustarHeader(Buffer.from("PaxHeader"), records.length, 0o644, "x"),
    records,
    padding(records.length),
    ustarHeader(Buffer.from(`mcpssh-${bytes.length}`), size, mode, "0")
  ])
}

export type TarEvent =
  | { readonly type: "file"; readonly name: string; readonly size: number; readonly mode: number }
  /** Part of the current file's data (a view: copy it to keep it past the callback). */
  | { readonly type: "data"; readonly chunk: Buffer }
  /** The current file's data is complete. */
  | { readonly type: "end" }

const field = (h: Buffer, at: number, len: number) => {
  const f = h.subarray(at, at + len)
  const nul = f.indexOf(0)
  return nul === -1 ? f : f.subarray(0, nul)
}

const number = (h: Buffer, at: number, len: number): number => {
  const f = h.subarray(at, at + len)
  if ((f[0]! & 0x80) !== 0) {
    // base-256 (GNU, for sizes over 8 GiB)
    let n = 0
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]!
    return n
  }
  const s = field(h, at, len).toString("ascii").trim()
  if (!/^[0-7]*$/.test(s)) throw new TarError(`malformed number field ${JSON.stringify(s)}`)
  return s === "" ? 0 : Number.parseInt(s, 8)
}

const checksumOk = (h: Buffer) => {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!
  return number(h, 148, 8) === sum
}

const parsePax = (data: Buffer): Map<string, string> => {
  const out = new Map<string, string>()
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    const len = Number(data.subarray(at, space).toString("ascii"))
    if (space === -1 || !Number.isSafeInteger(len) || len <= 0 || at + len > data.length) throw new TarError("malformed pax header")
    const record = data.subarray(space + 1, at + len - 1).toString("utf8")
    const eq = record.indexOf("=")
    if (eq === -1) throw new TarError("malformed pax record")
    out.set(record.slice(0, eq), record.slice(eq + 1))
    at += len
  }
  return out
}

/** Why `name` may not name a file in the tree, or undefined. */
const badName = (name: string): string | undefined => {
  if (name === "" || name.startsWith("/")) return "an absolute or empty path"
  if (name.includes("\0")) return "a NUL byte"
  for (const part of name.split("/")) if (part === ".." || part === "") return "a \"..\" or empty component"
  return undefined
}

const MAX_META = 1024 * 1024

/** Reads an archive fed in chunks of any size; `finish` checks that it ended cleanly. */
export class TarReader {
  private header = Buffer.alloc(BLOCK)
  private have = 0
  /** Data bytes of the current entry still to come, then padding to skip. */
  private left = 0
  private skip = 0
  /** Collecting a pax or GNU long-name entry's data instead of passing it on. */
  private meta: { kind: "x" | "g" | "L"; parts: Array<Buffer> } | undefined
  private inFile = false
  private pax = new Map<string, string>()
  private longName: string | undefined
  private done = false

  constructor(private readonly emit: (e: TarEvent) => void) {}

  /** The archive's end was read: anything fed after it is ignored. */
  get ended(): boolean {
    return this.done
  }

  feed(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length && !this.done) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - at)
        const part = chunk.subarray(at, at + n)
        if (this.meta !== undefined) this.meta.parts.push(Buffer.from(part))
        else this.emit({ type: "data", chunk: part })
        this.left -= n
        at += n
        if (this.left === 0) this.entryDone()
      } else if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at)
        this.skip -= n
        at += n
      } else {
        const n = Math.min(BLOCK - this.have, chunk.length - at)
        chunk.copy(this.header, this.have, at, at + n)
        this.have += n
        at += n
        if (this.have === BLOCK) {
          this.have = 0
          this.onHeader(this.header)
        }
      }
    }
  }

  finish(): void {
    if (!this.done) throw new TarError("the archive ended early")
  }

  private entryDone() {
    this.skip = (BLOCK - (this.size % BLOCK)) % BLOCK
    if (this.meta !== undefined) {
      const data = Buffer.concat(this.meta.parts)
      if (this.meta.kind === "x") this.pax = parsePax(data)
      else if (this.meta.kind === "L") this.longName = field(data, 0, data.length).toString("utf8")
      this.meta = undefined
    } else if (this.inFile) {
      this.inFile = false
      this.emit({ type: "end" })
    }
  }

  private size = 0

  private onHeader(h: Buffer) {
    if (h.every((b) => b === 0)) {
      this.done = true
      return
    }
    if (!checksumOk(h)) throw new TarError("bad header checksum")
    const type = String.fromCharCode(h[156]!)
    const ustar = field(h, 257, 6).toString("ascii") === "ustar" && h.subarray(263, 265).toString("ascii") === "00"
    const prefix = ustar ? field(h, 345, 155).toString("utf8") : ""
    const headerName = (prefix === "" ? "" : `${prefix}/`) + field(h, 0, 100).toString("utf8")
    let size = number(h, 124, 12)
    if (type === "x" || type === "g" || type === "L") {
      if (size > MAX_META) throw new TarError("oversized metadata entry")
      this.meta = { kind: type, parts: [] }
      return this.begin(size)
    }
    const name = (this.pax.get("path") ?? this.longName ?? headerName).replace(/^(\.\/)+/, "").replace(/\/$/, "")
    if (this.pax.has("size")) size = Number(this.pax.get("size"))
    this.pax = new Map()
    this.longName = undefined
    if (!Number.isSafeInteger(size) || size < 0) throw new TarError("malformed size")
    if (type === "5") return this.begin(0)
    if (type !== "0" && type !== "\0") {
      throw new TarError(`${JSON.stringify(name.slice(0, 200))} is a ${type === "1" || type === "2" ? "link" : type === "3" || type === "4" ? "device" : type === "6" ? "FIFO" : `type ${JSON.stringify(type)} entry`}`)
    }
    const why = badName(name)
    if (why !== undefined) throw new TarError(`${JSON.stringify(name.slice(0, 200))} is ${why}`)
    this.inFile = true
    this.emit({ type: "file", name, size, mode: number(h, 100, 8) })
    this.begin(size)
  }

  private begin(size: number) {
    this.size = size
    this.left = size
    if (size === 0) this.entryDone()
  }
}
