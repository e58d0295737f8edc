import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { BLOCK, endOfArchive, fileHeader, padding, TarError, type TarEvent, TarReader } from "../../../src/transfers/tar.js"

interface File {
  readonly name: string
  readonly data: Buffer
  readonly mode: number
}

const write = (files: ReadonlyArray<File>) =>
  Buffer.concat([...files.flatMap((f) => [fileHeader(f.name, f.data.length, f.mode), f.data, padding(f.data.length)]), endOfArchive()])

/** Read `archive` fed in chunks of `step` bytes. */
const read = (archive: Buffer, step = archive.length) => {
  const out: Array<File> = []
  let cur: { name: string; mode: number; parts: Array<Buffer> } | undefined
  const reader = new TarReader((e: TarEvent) => {
    if (e.type === "file") cur = { name: e.name, mode: e.mode, parts: [] }
    else if (e.type === "data") cur!.parts.push(Buffer.from(e.chunk))
    else out.push({ name: cur!.name, mode: cur!.mode, data: Buffer.concat(cur!.parts) })
  })
  for (let i = 0; i < archive.length; i += step) reader.feed(archive.subarray(i, i + step))
  reader.finish()
  return out
}

const sizes = [0, 1, 511, 512, 513, 1024, 70_000]
const names = [
  "a.txt",
  "d/e/f.bin",
  `long/${"x".repeat(120)}/${"y".repeat(150)}.txt`,
  "x".repeat(100),
  "tab\there/new\nline",
  "ünïcödé/日本語.txt",
  "-dash",
  "back\\slash"
]
const files: Array<File> = [
  ...sizes.map((n, i) => ({ name: `sizes/s${n}`, data: randomBytes(n), mode: [0o644, 0o755, 0o600][i % 3]! })),
  ...names.map((name) => ({ name, data: randomBytes(100), mode: 0o640 }))
]

describe("tar writer and reader", () => {
  it("round-trip sizes 0, 1, 511, 512, 513 …, long, hostile and non-ASCII names, in chunks of any size", () => {
    const archive = write(files)
    expect(archive.length % BLOCK).toBe(0)
    for (const step of [1, 7, 512, 4096, archive.length]) expect(read(archive, step)).toEqual(files)
  })

  it("GNU tar reads what we write, names, bytes and modes intact", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-tar-"))
    try {
      execFileSync("tar", ["-x", "-p", "-m", "--no-same-owner", "-f", "-", "-C", dir], { input: write(files) })
      for (const f of files) {
        expect(fs.readFileSync(path.join(dir, f.name)).equals(f.data), f.name).toBe(true)
        expect(fs.statSync(path.join(dir, f.name)).mode & 0o777, f.name).toBe(f.mode)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads what GNU tar writes (pax and gnu formats), directories skipped", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-tar-"))
    try {
      for (const f of files) {
        fs.mkdirSync(path.join(dir, path.dirname(f.name)), { recursive: true })
        fs.writeFileSync(path.join(dir, f.name), f.data, { mode: f.mode })
        fs.chmodSync(path.join(dir, f.name), f.mode)
      }
      fs.mkdirSync(path.join(dir, "empty"))
      const byName = (a: File, b: File) => a.name < b.name ? -1 : 1
      for (const format of ["pax", "gnu"]) {
        const archive = execFileSync("tar", ["-c", `--format=${format}`, "-C", dir, "-f", "-", "."], { maxBuffer: 1 << 26 })
        expect(read(archive, 1000).sort(byName), format).toEqual([...files].sort(byName))
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses links, devices, FIFOs, absolute paths, '..', a bad checksum and a truncated archive", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-tar-"))
    try {
      fs.writeFileSync(path.join(dir, "f"), "x")
      fs.symlinkSync("/etc/passwd", path.join(dir, "sym"))
      fs.linkSync(path.join(dir, "f"), path.join(dir, "hard"))
      execFileSync("mkfifo", [path.join(dir, "fifo")])
      const tarOf = (...args: Array<string>) => execFileSync("tar", ["-c", "--format=pax", "-C", dir, "-f", "-", ...args])
      expect(() => read(tarOf("sym"))).toThrow(/link/)
      expect(() => read(tarOf("f", "hard"))).toThrow(/link/)
      expect(() => read(tarOf("fifo"))).toThrow(/FIFO/)
      expect(() => read(execFileSync("tar", ["-c", "-f", "-", "-P", "/dev/null"]))).toThrow(/device|absolute/)
      expect(() => read(execFileSync("tar", ["-c", "-f", "-", "-P", "/etc/hostname"]))).toThrow(/absolute/)
      const up = Buffer.concat([fileHeader("a/../../escape", 1, 0o644), Buffer.from("x"), padding(1), endOfArchive()])
      expect(() => read(up)).toThrow(/\.\./)
      const bad = write([{ name: "a", data: Buffer.from("x"), mode: 0o644 }])
      bad[0] = 0x62
      expect(() => read(bad)).toThrow(/checksum/)
      const good = write([{ name: "a", data: randomBytes(1000), mode: 0o644 }])
      expect(() => read(good.subarray(0, 900))).toThrow(TarError)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
