/**
 * Download over SFTP: each file is read through pipelined SFTP requests into a file created
 * exclusively (0600) in a private 0700 directory next to its target, hashed as it arrives,
 * while the host hashes all sources in one command, and given its mode (masked to 0o777)
 * through the descriptor that wrote it; only when every digest matches are the files renamed
 * into place. The private directories are removed whatever happens.
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { Effect, FileSystem } from "effect"
import type { SFTPWrapper } from "ssh2"
import { ChecksumMismatchError, SftpError } from "../domain/errors.js"
import { remoteSha256s } from "./hostHashes.js"
import { privateDir } from "./localFiles.js"
import { type FileResult, localMode, type TransferHost, type TransferRequest } from "./model.js"
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
  // Each directory is made and noted as one step that an interruption waits for: noted only
  // after the fiber resumed, one made just before a cancel was never removed.
  const prepare = Effect.forEach(targets, (t) =>
    dirs.has(path.dirname(t.target))
      ? Effect.void
      : Effect.uninterruptible(Effect.map(privateDir(t.target), (priv) => void dirs.set(path.dirname(t.target), priv))).pipe(
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
 * Rename each verified temporary file over its target. Its mode (`localMode`: never set-uid,
 * set-gid or sticky) was set through the descriptor that wrote it, inside the private
 * directory: nothing is done by path after the rename, so a directory on the way swapped for
 * a symlink in between cannot turn a mode change onto another file.
 */
export const placeLocal = (request: TransferRequest, got: ReadonlyArray<{ readonly t: LocalTarget; readonly temp: string; readonly bytes: number; readonly sha256: string; readonly mode?: number | undefined }>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.forEach(got, (f) => {
      const mode = localMode(request, f.mode)
      return fs.rename(f.temp, f.t.target).pipe(
        Effect.as({ path: f.t.rel, bytes: f.bytes, sha256Local: f.sha256, sha256Remote: f.sha256, mode } satisfies FileResult),
        Effect.mapError((e) => sftpFailure(`local_path ${f.t.target}`, e))
      )
    }, { concurrency: 16 })
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
              try: (signal) => getFile(sftp, t.source, temp, { signal, onBytes: tick, finalMode: (m) => localMode(request, m) }),
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
