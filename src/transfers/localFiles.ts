/**
 * The local side of a transfer, through Effect's `FileSystem`: the regular files of a tree
 * to upload, and the directories a download writes into, resolved under `local_path`
 * without following a symlink out of it (docs/SECURITY.md).
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { Effect, FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { SftpError } from "../domain/errors.js"
import { isInside, type TreeEntry } from "../files/treePaths.js"
import type { TransferRequest } from "./model.js"
import { dirOf, sftpFailure } from "./sftpCall.js"

/** Regular files only: symlinks (to files or directories) and special files are not followed or sent. */
export interface LocalEntry extends TreeEntry {
  /** Permission bits and set-uid, set-gid, sticky (0o7777). */
  readonly mode: number
}

export const localTree = (root: string): Effect.Effect<Array<LocalEntry>, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const out: Array<LocalEntry> = []
    const walk = (rel: string): Effect.Effect<void, PlatformError> =>
      Effect.gen(function*() {
        const entries = yield* fs.readDirectoryEntries(path.join(root, rel))
        const files = entries.filter((e) => e.type === "File").map((e) => rel === "" ? e.name : `${rel}/${e.name}`)
        const sizes = yield* Effect.forEach(files, (r) => fs.stat(path.join(root, r)), { concurrency: 16 })
        files.forEach((r, i) => out.push({ rel: r, size: Number(sizes[i]!.size), mode: sizes[i]!.mode & 0o7777 }))
        for (const e of entries) if (e.type === "Directory") yield* walk(rel === "" ? e.name : `${rel}/${e.name}`)
      })
    yield* walk("")
    return out
  })

/** A directory on the way to a download's target that must not be used; the message says why. */
class Refused {
  constructor(readonly message: string) {}
}

/** A directory of a download: its real path, or the one it will have once made. */
export interface LocalDir {
  readonly real: string
  readonly exists: boolean
}

/**
 * The real path of directory `dirRel` ("/"-separated, "" for the root) under `root` (a real
 * path), following existing symlinks only while they stay inside `root`. With `create`,
 * missing directories are made one at a time (never through a symlink); without it, the
 * path a missing one will have (its existing part real, the rest as named).
 */
const resolveDir = (fs: FileSystem.FileSystem, root: string, dirRel: string, create: boolean) =>
  Effect.gen(function*() {
    const parts = dirRel === "" ? [] : dirRel.split("/")
    let cur = root
    for (let i = 0; i < parts.length; i++) {
      const p = path.join(cur, parts[i]!)
      const shown = path.join(...parts.slice(0, i + 1))
      const st = yield* fs.lstat(p).pipe(Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(undefined)))
      if (st === undefined) {
        if (!create) return { real: path.join(cur, ...parts.slice(i)), exists: false } satisfies LocalDir
        yield* fs.makeDirectory(p)
        cur = p
      } else if (st.type === "SymbolicLink") {
        const real = yield* fs.realPath(p).pipe(Effect.mapError(() => new Refused(`${shown} is a symlink that leads nowhere`)))
        if (!isInside(root, real)) return yield* Effect.fail(new Refused(`${shown} is a symlink to ${real}, outside local_path`))
        if ((yield* fs.stat(real)).type !== "Directory") return yield* Effect.fail(new Refused(`${shown} is not a directory`))
        cur = real
      } else if (st.type === "Directory") {
        cur = p
      } else {
        return yield* Effect.fail(new Refused(`${shown} is not a directory`))
      }
    }
    return { real: cur, exists: true } satisfies LocalDir
  })

/**
 * Resolve (and with `create` make) the local directories of `entries` under `root`: each
 * directory's real path by its "/"-separated relative path (the one it will have where it
 * does not exist yet).
 */
export const localDirs = (request: TransferRequest, root: string, entries: ReadonlyArray<TreeEntry>, create: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dirs = new Map<string, LocalDir>()
    for (const e of entries) {
      const dirRel = dirOf(e.rel)
      if (dirs.has(dirRel)) continue
      const dir = yield* resolveDir(fs, root, dirRel, create)
      if (!isInside(root, dir.real)) return yield* Effect.fail(new Refused(`${dirRel} leads outside local_path`))
      dirs.set(dirRel, dir)
    }
    return dirs
  }).pipe(Effect.mapError((e) =>
    e instanceof Refused
      ? new SftpError({ message: `local_path ${request.localPath}: ${e.message}; nothing was written there`, hint: "remove or replace that symlink, or download to another local_path" })
      : sftpFailure(`local_path ${request.localPath}`, e)
  ))

/** `local_path` of a directory download, made if missing (with mkdirs), as a real path. */
export const localRoot = (request: TransferRequest) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (request.mkdirs !== false && !(yield* fs.exists(request.localPath))) yield* fs.makeDirectory(request.localPath, { recursive: true })
    const real = yield* fs.realPath(request.localPath)
    if ((yield* fs.stat(real)).type !== "Directory") return yield* new SftpError({ message: `local_path ${request.localPath} is not a directory` })
    return real
  }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(sftpFailure(`local_path ${request.localPath}`, e))))

/**
 * A fresh 0700 directory next to `target` (same file system, so the final rename is atomic),
 * `.<name>.mcpssh-XXXXXX`, for the temporary files of downloads into that directory.
 */
export const privateDir = (target: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.makeTempDirectory({ directory: path.dirname(target), prefix: `.${path.basename(target).slice(0, 100)}.mcpssh-` })
  })
