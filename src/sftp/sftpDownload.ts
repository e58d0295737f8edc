/**
 * Download over SFTP: each file is read through pipelined SFTP requests into a file created
 * exclusively (0600) in a private 0700 directory next to its target, hashed as it arrives,
 * while the host hashes all sources in one command; only when every digest matches are the
 * files given their mode (masked to 0o777) and renamed into place. The private directories
 * are removed whatever happens.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, FileSystem } from "effect"
import type { SFTPWrapper } from "ssh2"
import { ChecksumMismatchError, SftpError } from "../domain/errors.js"
import { remoteSha256s } from "./hostHashes.js"
import { privateDir } from "./localFiles.js"
import type { FileResult, TransferHost, TransferRequest } from "./model.js"
import { getFile } from "./pipeline.js"
import { sftpFailure } from "./sftpCall.js"
import { FILES_IN_FLIGHT } from "./sftpUpload.js"

export interface LocalTarget {
  readonly rel: string
  readonly source: string
  readonly target: string
}

/** Refuse a target that is a directory, or that exists when overwrite is false. */
export const checkTargets = (request: TransferRequest, targets: ReadonlyArray<LocalTarget>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    for (const t of targets) {
      const st = yield* fs.stat(t.target).pipe(
        Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(undefined)),
        Effect.mapError((e) => sftpFailure(`local_path ${t.target}`, e))
      )
      if (st?.type === "Directory") return yield* new SftpError({ message: `local_path ${t.target} is a directory` })
      if (st !== undefined && request.overwrite === false) return yield* new SftpError({ message: `local_path ${t.target} exists and overwrite is false` })
    }
  })

/**
 * Temporary files for `targets`, in one private directory per target directory (made by
 * `prepare`, before the copies run at once); `remove` removes those directories with
 * whatever is left in them.
 */
export const privateTemps = (targets: ReadonlyArray<LocalTarget>) => {
  const dirs = new Map<string, string>()
  const prepare = Effect.forEach(targets, (t) =>
    dirs.has(path.dirname(t.target))
      ? Effect.void
      : Effect.map(privateDir(t.target), (priv) => void dirs.set(path.dirname(t.target), priv)).pipe(
        Effect.mapError((e) => sftpFailure(`local_path ${t.target}`, e))
      ), { discard: true })
  const tempFor = (t: LocalTarget, i: number) =>
    path.join(dirs.get(path.dirname(t.target))!, targets.length === 1 && path.basename(t.target).length <= 200 ? path.basename(t.target) : String(i))
  const remove = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Nothing more to do if this fails: it is a hidden, private directory.
    yield* Effect.forEach([...dirs.values()], (d) => Effect.ignore(fs.remove(d, { recursive: true, force: true })), { discard: true, concurrency: 8 })
  })
  return { prepare, tempFor, remove }
}

/**
 * Rename each verified temporary file over its target, then give it its mode (never set-uid,
 * set-gid or sticky) through a handle that does not follow a symlink: inside the private
 * directory a file stays 0600.
 */
export const placeLocal = (request: TransferRequest, got: ReadonlyArray<{ readonly t: LocalTarget; readonly temp: string; readonly bytes: number; readonly sha256: string; readonly mode?: number | undefined }>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.forEach(got, (f) => {
      // Whatever the host or the caller says, no set-uid, set-gid or sticky file is made here.
      const mode = (request.mode ?? f.mode ?? 0o600) & 0o777
      return Effect.andThen(fs.rename(f.temp, f.t.target), chmodNoFollow(f.t.target, mode)).pipe(
        Effect.as({ path: f.t.rel, bytes: f.bytes, sha256Local: f.sha256, sha256Remote: f.sha256, mode } satisfies FileResult),
        Effect.mapError((e) => sftpFailure(`local_path ${f.t.target}`, e))
      )
    }, { concurrency: 16 })
  })

/** chmod `file`, refusing (ELOOP) if it is a symlink: FileSystem's chmod would follow one. */
const chmodNoFollow = (file: string, mode: number) =>
  Effect.tryPromise({
    try: () =>
      new Promise<void>((resolve, reject) =>
        fs.open(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0), (err, fd) => {
          if (err !== null) return reject(err)
          fs.fchmod(fd, mode, (e) => fs.close(fd, () => e !== null ? reject(e) : resolve()))
        })),
    catch: (e) => e
  })

export const sftpDownload = (host: TransferHost, sftp: SFTPWrapper, request: TransferRequest, remoteRoot: string, targets: ReadonlyArray<LocalTarget>, tick: (n: number) => void) =>
  Effect.gen(function*() {
    const temps = privateTemps(targets)
    return yield* Effect.gen(function*() {
      yield* checkTargets(request, targets)
      yield* temps.prepare
      const [sums, got] = yield* Effect.all([
        remoteSha256s(host, remoteRoot, targets.map((t) => t.rel)),
        Effect.forEach(targets, (t, i) =>
          Effect.gen(function*() {
            const temp = temps.tempFor(t, i)
            const copied = yield* Effect.tryPromise({
              try: (signal) => getFile(sftp, t.source, temp, { signal, onBytes: tick }),
              catch: (e) => sftpFailure(`downloading ${t.source}`, e)
            })
            return { t, temp, ...copied }
          }), { concurrency: FILES_IN_FLIGHT })
      ], { concurrency: 2 })
      const bad = got.find((f) => sums.get(f.t.rel) !== f.sha256)
      if (bad !== undefined) {
        return yield* new ChecksumMismatchError({
          message: `${bad.t.source}: sha256 differs after download (remote ${sums.get(bad.t.rel)}, local ${bad.sha256}); ${targets.length > 1 ? "no file was replaced" : "target left unchanged"}`
        })
      }
      return yield* placeLocal(request, got)
    }).pipe(Effect.ensuring(temps.remove))
  })
