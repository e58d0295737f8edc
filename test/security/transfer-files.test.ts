/**
 * The pieces behind transfer trust (issue 13, points 1 and 12), without a host: the
 * listing parser refuses what an honest `find` never prints, local directories are never
 * walked out of through a symlink, and private files are created exclusively.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { createExclusive, ensurePrivateDir, openPrivateAppend, privateTemp } from "../../src/files/privateFiles.js"
import { LocalPathError, parseListing, resolveLocalDir, unsafeRelative } from "../../src/files/treePaths.js"

const tmp = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-files-")))

describe("listing", () => {
  it("keeps tabs, newlines and dots inside names", () => {
    expect(parseListing("5 b\t1\n../file\x003 ok.txt\x000 .hidden/..x\x00")).toEqual([
      { rel: "b\t1\n../file", size: 5 },
      { rel: "ok.txt", size: 3 },
      { rel: ".hidden/..x", size: 0 }
    ])
    expect(parseListing("")).toEqual([])
  })

  it.each([
    ["5 ../escape\0", /"\.\.\/escape", a "\.\." component/],
    ["5 a/../../escape\0", /"\.\." component/],
    ["5 /etc/passwd\0", /absolute path/],
    ["5 a//b\0", /empty or "\." component/],
    ["5 ./a\0", /empty or "\." component/],
    ["5 a/.\0", /empty or "\." component/],
    ["5 \0", /empty path/],
    ["5 a\x005 b", /does not end with a NUL/],
    ["x a\0", /malformed listing record/],
    ["a\0", /malformed listing record/]
  ])("refuses %j whole", (output, reason) => {
    const r = parseListing(output)
    expect(typeof r).toBe("string")
    expect(r).toMatch(reason)
  })

  it("names a NUL byte", () => {
    expect(unsafeRelative("a\0b")).toMatch(/NUL/)
    expect(unsafeRelative("a/b c/d")).toBeUndefined()
  })
})

describe("local directories", () => {
  it("are made inside the root and never through a symlink that leaves it", () => {
    const root = tmp()
    const outside = tmp()
    fs.symlinkSync(outside, path.join(root, "out"))
    fs.mkdirSync(path.join(root, "real"))
    fs.symlinkSync(path.join(root, "real"), path.join(root, "in"))
    expect(resolveLocalDir(root, "a/b", true)).toBe(path.join(root, "a", "b"))
    expect(resolveLocalDir(root, "in/c", true)).toBe(path.join(root, "real", "c"))
    expect(() => resolveLocalDir(root, "out/c", true)).toThrow(LocalPathError)
    expect(() => resolveLocalDir(root, "out/c", false)).toThrow(/out is a symlink to .*, outside local_path/)
    fs.symlinkSync("/nonexistent-mcpssh", path.join(root, "dangling"))
    expect(() => resolveLocalDir(root, "dangling/x", true)).toThrow(/leads nowhere/)
    fs.writeFileSync(path.join(root, "file"), "")
    expect(() => resolveLocalDir(root, "file/x", true)).toThrow(/file is not a directory/)
    expect(resolveLocalDir(root, "missing/x", false)).toBeUndefined()
    expect(fs.readdirSync(outside)).toEqual([])
  })
})

describe("private files", () => {
  const umask = process.umask()
  afterEach(() => {
    process.umask(umask)
  })

  it("createExclusive refuses a path that exists, a planted symlink included, and follows nothing", () => {
    process.umask(0)
    const dir = tmp()
    const victim = path.join(dir, "victim")
    fs.writeFileSync(victim, "precious")
    const planted = path.join(dir, "planted")
    fs.symlinkSync(victim, planted)
    expect(() => createExclusive(planted)).toThrow(/EEXIST/)
    expect(() => createExclusive(victim)).toThrow(/EEXIST/)
    fs.symlinkSync(path.join(dir, "would-be-created"), path.join(dir, "dangling"))
    expect(() => createExclusive(path.join(dir, "dangling"))).toThrow(/EEXIST/)
    expect(fs.existsSync(path.join(dir, "would-be-created"))).toBe(false)
    expect(fs.readFileSync(victim, "utf8")).toBe("precious")
    const fresh = path.join(dir, "fresh")
    createExclusive(fresh)
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o600)
  })

  it("privateTemp is a 0600 file in a fresh 0700 directory next to the target", () => {
    process.umask(0)
    const dir = tmp()
    fs.chmodSync(dir, 0o777)
    const a = privateTemp(path.join(dir, "target.bin"))
    const b = privateTemp(path.join(dir, "target.bin"))
    expect(a.dir).not.toBe(b.dir)
    expect(path.dirname(a.dir)).toBe(dir)
    expect(path.basename(a.dir)).toMatch(/^\.target\.bin\.mcpssh-/)
    expect(fs.statSync(a.dir).mode & 0o777).toBe(0o700)
    expect(fs.statSync(a.file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(a.file).size).toBe(0)
    const long = privateTemp(path.join(dir, "x".repeat(250)))
    expect(path.basename(long.file)).toBe("data")
  })

  it("ensurePrivateDir makes 0700 directories and narrows a loose one; openPrivateAppend is 0600 and refuses a symlink", async () => {
    process.umask(0)
    const dir = tmp()
    const made = path.join(dir, "a", "b")
    expect(await ensurePrivateDir(made)).toBeUndefined()
    expect(fs.statSync(made).mode & 0o777).toBe(0o700)
    const loose = path.join(dir, "loose")
    fs.mkdirSync(loose, { mode: 0o755 })
    expect(await ensurePrivateDir(loose)).toMatchObject({ warn: false, message: expect.stringMatching(/mode 0755.*narrowed to 0700/) })
    expect(fs.statSync(loose).mode & 0o777).toBe(0o700)
    const log = path.join(made, "job.log")
    fs.writeFileSync(log, "old\n", { mode: 0o644 })
    const stream = openPrivateAppend(log)
    await new Promise<void>((resolve) => stream.end("new\n", resolve))
    expect(fs.readFileSync(log, "utf8")).toBe("old\nnew\n")
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    const victim = path.join(dir, "victim")
    fs.writeFileSync(victim, "precious")
    fs.symlinkSync(victim, path.join(made, "planted.log"))
    expect(() => openPrivateAppend(path.join(made, "planted.log"))).toThrow(/ELOOP/)
    expect(fs.readFileSync(victim, "utf8")).toBe("precious")
  })
})
