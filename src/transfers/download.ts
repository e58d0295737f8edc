/**
 * `ssh_download`: a file or directory tree from the host, atomic and verified: a tree as
 * one tar stream (tarDownload.ts) where the host has GNU tar, otherwise and for a single
 * file over SFTP (sftpDownload.ts); a single large file across a long link over several
 * channels at once (rangeDownload.ts). A directory's listing comes NUL-separated from the host and is refused
 * whole if any entry is not a plain relative path; every local target is resolved under
 * `local_path` without following symlinks out of it.
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { Clock, Effect, Fiber, FileSystem } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import { LocalPathDeniedError, SftpError } from "../domain/errors.js"
import { isInside, listingCommand, parseListing, unsafeRelative } from "../files/treePaths.js"
import { shellQuote } from "../ssh/shell.js"
import { localDirs, localRoot } from "./localFiles.js"
import { type LocalCheck, listingHint, localRootsHint, summary, type TransferHost, type TransferRequest } from "./model.js"
import { progress } from "./progress.js"
import { rangeDownload } from "./rangeDownload.js"
import { call, dirOf, sftpFailure } from "./sftpCall.js"
import { type LocalTarget, sftpDownload } from "./sftpDownload.js"
import { tarDownload } from "./tarDownload.js"
import { SINGLE_VIA_STREAM } from "./upload.js"

/**
 * A single large regular file (not a symlink to one: the host's tar would send the link)
 * comes as a one-entry tar stream over an exec channel while the host hashes it from its
 * page cache: one stream instead of an SFTP request per 32 KiB. Undefined where SFTP must
 * do it (small or special file, an unusual name, no GNU tar).
 */
const singleViaTar = (host: TransferHost, sftp: SFTPWrapper, request: TransferRequest, st: Stats, tick: (n: number) => void) =>
  Effect.gen(function*() {
    const name = path.posix.basename(request.remotePath)
    if (!st.isFile() || st.size < SINGLE_VIA_STREAM || request.remotePath.endsWith("/") || unsafeRelative(name) !== undefined) return undefined
    const lst = yield* call<Stats>(`remote_path ${request.remotePath}`, (cb) => sftp.lstat(request.remotePath, cb))
    if (!lst.isFile()) return undefined
    const files = yield* tarDownload(host, request, path.posix.dirname(request.remotePath), [{ rel: name, source: request.remotePath, target: request.localPath }], tick)
    return files?.map((f) => ({ ...f, path: "" }))
  })

/** `request.localPath` is a real path the caller checked; `check` judges each file of a tree. */
export const download = (host: TransferHost, request: TransferRequest, check: LocalCheck = () => undefined) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const fs = yield* FileSystem.FileSystem
    return yield* Effect.scoped(Effect.gen(function*() {
      const done = (files: Parameters<typeof summary>[2], single: boolean) =>
        Effect.map(Clock.currentTimeMillis, (now) => summary(host.alias, now - started, files, single))
      // Across a long link a single large file comes over lanes (rangeDownload.ts), whose hasher
      // says first whether the path is one; the SFTP session every other case needs opens meanwhile.
      const session = yield* Effect.forkScoped(host.session)
      const ranged = request.remotePath.endsWith("/") ? undefined : yield* rangeDownload(host, request)
      if (ranged !== undefined) {
        yield* Fiber.interrupt(session)
        return yield* done(ranged, true)
      }
      const sftp = yield* Fiber.join(session)
      const st = yield* call<Stats>(`remote_path ${request.remotePath}`, (cb) => sftp.stat(request.remotePath, cb))
      if (!st.isDirectory()) {
        if (request.mkdirs !== false) {
          yield* Effect.mapError(fs.makeDirectory(path.dirname(request.localPath), { recursive: true }), (e) => sftpFailure(`local_path ${request.localPath}`, e))
        }
        const p = yield* progress(request.onProgress, st.size)
        const files = (yield* singleViaTar(host, sftp, request, st, p.add)) ??
          (yield* sftpDownload(host, sftp, request, request.remotePath, [{ rel: "", source: request.remotePath, target: request.localPath }], p.add))
        yield* p.flush
        return yield* done(files, true)
      }
      const r = yield* host.run(`cd -- ${shellQuote(request.remotePath)} && ${listingCommand}`, {
        step: `the directory listing (find) of ${request.remotePath} on ${host.alias}`,
        maxStdout: host.listingCap,
        hint: listingHint
      })
      if (r.code !== 0) return yield* new SftpError({ message: `cannot list ${request.remotePath} on ${host.alias}: ${r.stderr.trim()}` })
      const entries = parseListing(r.stdout)
      if (typeof entries === "string") {
        return yield* new SftpError({
          message: `remote_path ${request.remotePath}: ${entries}; nothing was downloaded`,
          hint: "the host's listing is not what GNU find prints; a path outside the directory is never written"
        })
      }
      const root = yield* localRoot(request)
      const denied = (rel: string, why: string) =>
        new LocalPathDeniedError({ message: `local_path ${request.localPath}: ${JSON.stringify(rel)} ${why}; nothing was written there`, hint: localRootsHint })
      // Refuse before writing anything when an existing local directory leads outside
      // local_path, or a file would land where local_roots forbid (~/.ssh in a home download).
      const planned = yield* localDirs(request, root, entries, false)
      for (const e of entries) {
        const why = check(path.join(planned.get(dirOf(e.rel))!.real, path.posix.basename(e.rel)))
        if (why !== undefined) return yield* denied(e.rel, why)
      }
      const dirs = yield* localDirs(request, root, entries, request.mkdirs !== false)
      const targets: Array<LocalTarget> = []
      for (const e of entries) {
        const dir = dirs.get(dirOf(e.rel))!
        if (!dir.exists) {
          return yield* new SftpError({ message: `local_path ${path.join(root, dirOf(e.rel))}: no such file or directory (mkdirs is false)` })
        }
        const target = path.join(dir.real, path.posix.basename(e.rel))
        if (!isInside(root, target)) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} resolves outside it` })
        const why = check(target)
        if (why !== undefined) return yield* denied(e.rel, why)
        targets.push({ rel: e.rel, source: path.posix.join(request.remotePath, e.rel), target })
      }
      const p = yield* progress(request.onProgress, entries.reduce((n, e) => n + e.size, 0))
      // A tree comes as one tar stream where the host allows, else file by file over SFTP.
      const viaTar = targets.length === 0 ? undefined : yield* tarDownload(host, request, request.remotePath, targets, p.add)
      const files = viaTar ?? (yield* sftpDownload(host, sftp, request, request.remotePath, targets, p.add))
      yield* p.flush
      return yield* done(files, false)
    }))
  })
