/**
 * The pieces behind transfer trust (issue 13, points 1 and 12), without a host, as the
 * transfers and job mirrors use them: the listing parser refuses what an honest `find` never
 * prints, local directories are never walked out of through a symlink, and private files are
 * created exclusively.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Fiber, FileSystem } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { ensurePrivateDir, openExclusive, openPrivateAppendAsync } from "../../src/files/privateFiles.js"
import { parseListing, unsafeRelative } from "../../src/files/treePaths.js"
import { localDirs, privateDir } from "../../src/transfers/localFiles.js"
import { privateTemps } from "../../src/transfers/sftpDownload.js"

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
  /** The directories of a download's files `rels` under `root`, as the download resolves them. */
  const dirs = (root: string, rels: ReadonlyArray<string>, create: boolean) =>
    Effect.runPromise(
      localDirs({ localPath: root, remotePath: "/remote" }, root, rels.map((rel) => ({ rel, size: 0 })), create).pipe(
        Effect.result,
        Effect.provide(NodeFileSystem.layer)
      )
    )
  const refused = async (root: string, rel: string, create: boolean, why: RegExp) => {
    const r = await dirs(root, [rel], create)
    expect(r._tag).toBe("Failure")
    expect(r._tag === "Failure" ? r.failure : undefined).toMatchObject({ code: "SFTP_FAILED", message: expect.stringMatching(why) })
  }

  it("are made inside the root and never through a symlink that leaves it", async () => {
    const root = tmp()
    const outside = tmp()
    fs.symlinkSync(outside, path.join(root, "out"))
    fs.mkdirSync(path.join(root, "real"))
    fs.symlinkSync(path.join(root, "real"), path.join(root, "in"))
    const made = await dirs(root, ["a/b/f", "in/c/f"], true)
    expect(made._tag === "Success" ? [...made.success.values()] : made).toEqual([
      { real: path.join(root, "a", "b"), exists: true },
      { real: path.join(root, "real", "c"), exists: true }
    ])
    expect(fs.statSync(path.join(root, "real", "c")).isDirectory()).toBe(true)
    await refused(root, "out/c/f", true, /out is a symlink to .*, outside local_path/)
    await refused(root, "out/c/f", false, /out is a symlink to .*, outside local_path/)
    fs.symlinkSync("/nonexistent-mcpssh", path.join(root, "dangling"))
    await refused(root, "dangling/x/f", true, /leads nowhere/)
    fs.writeFileSync(path.join(root, "file"), "")
    await refused(root, "file/x/f", true, /file is not a directory/)
    // Not made: where it would be.
    const planned = await dirs(root, ["missing/x/f"], false)
    expect(planned._tag === "Success" ? [...planned.success.values()] : planned).toEqual([{ real: path.join(root, "missing", "x"), exists: false }])
    expect(fs.existsSync(path.join(root, "missing"))).toBe(false)
    expect(fs.readdirSync(outside)).toEqual([])
  })
})

describe("private files", () => {
  const umask = process.umask()
  afterEach(() => {
    process.umask(umask)
  })

  it("openExclusive (download temporaries) refuses a path that exists, a planted symlink included, and follows nothing", async () => {
    process.umask(0)
    const dir = tmp()
    const victim = path.join(dir, "victim")
    fs.writeFileSync(victim, "precious")
    const planted = path.join(dir, "planted")
    fs.symlinkSync(victim, planted)
    await expect(openExclusive(planted)).rejects.toThrow(/EEXIST/)
    await expect(openExclusive(victim)).rejects.toThrow(/EEXIST/)
    fs.symlinkSync(path.join(dir, "would-be-created"), path.join(dir, "dangling"))
    await expect(openExclusive(path.join(dir, "dangling"))).rejects.toThrow(/EEXIST/)
    expect(fs.existsSync(path.join(dir, "would-be-created"))).toBe(false)
    expect(fs.readFileSync(victim, "utf8")).toBe("precious")
    const fresh = path.join(dir, "fresh")
    fs.closeSync(await openExclusive(fresh))
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o600)
  })

  it("privateDir (a download's temporaries) is a fresh 0700 directory next to the target", async () => {
    process.umask(0)
    const dir = tmp()
    fs.chmodSync(dir, 0o777)
    const make = (target: string) => Effect.runPromise(privateDir(target).pipe(Effect.provide(NodeFileSystem.layer)))
    const a = await make(path.join(dir, "target.bin"))
    const b = await make(path.join(dir, "target.bin"))
    expect(a).not.toBe(b)
    expect(path.dirname(a)).toBe(dir)
    expect(path.basename(a)).toMatch(/^\.target\.bin\.mcpssh-/)
    expect(fs.statSync(a).mode & 0o777).toBe(0o700)
    expect(path.basename(await make(path.join(dir, "x".repeat(250)))).length).toBeLessThan(120)
  })

  it("a cancel that lands as a download's private directory is being made still removes it", async () => {
    const dir = tmp()
    const temps = privateTemps([{ rel: "", source: "/remote/big.bin", target: path.join(dir, "big.bin") }])
    const run = Effect.gen(function*() {
      const real = yield* FileSystem.FileSystem
      // The directory is on disk a while before its fiber goes on, as on a busy machine.
      const slow: FileSystem.FileSystem = {
        ...real,
        makeTempDirectory: (options) => Effect.tap(real.makeTempDirectory(options), () => Effect.sleep("200 millis"))
      }
      const fiber = yield* Effect.forkChild(temps.prepare.pipe(Effect.ensuring(temps.remove), Effect.provideService(FileSystem.FileSystem, slow)))
      while (!fs.readdirSync(dir).some((n) => n.includes(".mcpssh-"))) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
    })
    await Effect.runPromise(run.pipe(Effect.provide(NodeFileSystem.layer)))
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("ensurePrivateDir makes 0700 directories and narrows a loose one; openPrivateAppendAsync (job log mirrors) is 0600 and refuses a symlink", async () => {
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
    const stream = await openPrivateAppendAsync(log)
    await new Promise<void>((resolve) => stream.end("new\n", resolve))
    expect(fs.readFileSync(log, "utf8")).toBe("old\nnew\n")
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    const victim = path.join(dir, "victim")
    fs.writeFileSync(victim, "precious")
    fs.symlinkSync(victim, path.join(made, "planted.log"))
    await expect(openPrivateAppendAsync(path.join(made, "planted.log"))).rejects.toThrow(/ELOOP/)
    expect(fs.readFileSync(victim, "utf8")).toBe("precious")
  })
})
