/**
 * `ssh_upload`: a local file or directory tree to the host, atomic and verified: a tree as
 * one tar stream (tarUpload.ts) where the host has GNU tar, otherwise and for a single file
 * over SFTP (sftpUpload.ts). A directory's regular files only: symlinks and special files are neither
 * followed nor sent.
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { Clock, Effect, FileSystem } from "effect"
import { LocalPathDeniedError, SftpError } from "../domain/errors.js"
import { HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import { unsafeRelative } from "../files/treePaths.js"
import { localTree } from "./localFiles.js"
import { type LocalCheck, localRootsHint, summary, type TransferError, type TransferHost, type TransferRequest } from "./model.js"
import { progress } from "./progress.js"
import { rangeUpload } from "./rangeUpload.js"
import { join, sftpFailure } from "./sftpCall.js"
import { sftpUpload } from "./sftpUpload.js"
import { tarUpload } from "./tarUpload.js"

/** Single files of at least this many bytes go over an exec channel as one stream (below it, SFTP's fewer round trips win). */
export const SINGLE_VIA_STREAM = 1024 * 1024

/** `request.localPath` is a real path the caller checked; `check` judges each file of a tree. */
export const upload = (host: TransferHost, request: TransferRequest, check: LocalCheck = () => undefined) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const fs = yield* FileSystem.FileSystem
    const stat = yield* Effect.mapError(fs.stat(request.localPath), (e) => sftpFailure(`local_path ${request.localPath}`, e))
    const single = stat.type !== "Directory"
    const entries = single
      ? [{ rel: "", size: Number(stat.size), mode: stat.mode & 0o7777 }]
      : yield* Effect.mapError(localTree(request.localPath), (e) => sftpFailure(`local_path ${request.localPath}`, e))
    for (const e of single ? [] : entries) {
      const why = unsafeRelative(e.rel)
      if (why !== undefined) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} is ${why}` })
      // The walk follows no symlink: root + rel is the file's real path.
      const denied = check(path.join(request.localPath, e.rel))
      if (denied !== undefined) {
        return yield* new LocalPathDeniedError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} ${denied}; nothing was sent`, hint: localRootsHint })
      }
    }
    const total = entries.reduce((n, e) => n + e.size, 0)
    return yield* Effect.scoped(Effect.gen(function*() {
      const p = yield* progress(request.onProgress, total)
      /**
       * A single large file goes as a one-entry tar stream over an exec channel into its
       * directory (one stream instead of an SFTP request per 32 KiB: several times faster),
       * with the same checks, temp, verification and rename as a tree; SFTP where that path
       * does not fit (small file, mkdirs false, an unusual name, no GNU tar, a symlink at the target).
       */
      const singleViaTar = (mkdirs: (dirs: ReadonlySet<string>) => Effect.Effect<void, TransferError>) =>
        Effect.gen(function*() {
          const name = path.posix.basename(request.remotePath)
          if (total < SINGLE_VIA_STREAM || request.mkdirs === false || request.remotePath.endsWith("/") || unsafeRelative(name) !== undefined) return undefined
          const dir = path.posix.dirname(request.remotePath)
          // The file itself, not a symlink to it (the stream opens it without following one).
          const local = yield* Effect.mapError(fs.realPath(request.localPath), (e) => sftpFailure(`local_path ${request.localPath}`, e))
          // Across a long link, over several channels at once (rangeUpload.ts; it makes the directory).
          const ranged = yield* rangeUpload(host, request, local, total, entries[0]!.mode, p.add)
          if (ranged !== undefined) return ranged
          yield* mkdirs(new Set([dir]))
          const files = yield* tarUpload(host, { ...request, remotePath: dir }, [{ ...entries[0]!, rel: name }], p.add, () => local, `${name.slice(0, 100)}.`)
          return files?.map((f) => ({ ...f, path: "" }))
        })
      const mkdirs = (dirs: ReadonlySet<string>) =>
        Effect.gen(function*() {
          if (request.mkdirs === false || dirs.size === 0) return
          const r = yield* host.run("xargs -0 mkdir -p --", {
            step: `mkdir on ${host.alias}`,
            maxStdout: HELPER_SMALL_OUTPUT,
            stdin: [...dirs].map((d) => `${d}\0`).join("")
          })
          if (r.code !== 0) return yield* new SftpError({ message: `cannot create ${[...dirs].join(", ")} on ${host.alias}: ${r.stderr.trim()}` })
        })
      // A tree goes as one tar stream where the host allows (its directories arrive with it),
      // else file by file over SFTP into directories made first.
      const viaTar = single
        ? yield* singleViaTar(mkdirs)
        : entries.length === 0
        ? undefined
        : yield* Effect.andThen(mkdirs(new Set([request.remotePath])), tarUpload(host, request, entries, p.add))
      if (viaTar === undefined) yield* mkdirs(new Set(entries.map((e) => path.posix.dirname(join(request.remotePath, e.rel)))))
      const files = viaTar ?? (yield* sftpUpload(host, yield* host.session, request, entries, p.add))
      yield* p.flush
      return summary(host.alias, (yield* Clock.currentTimeMillis) - started, files, single)
    }))
  })
