/**
 * Upload over SFTP: every file goes to a temporary name next to its target (created
 * exclusively, 0600) through pipelined SFTP writes, hashed here as it is read; then the host
 * hashes all temporary files in one command; only when every digest matches are they given
 * their mode and renamed into place. On any failure or interruption no target is touched and
 * every temporary file is removed.
 *
 * @since 0.2.0
 */
import * as path from "node:path"
import { Effect, FileSystem } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import { ChecksumMismatchError, SftpError } from "../domain/errors.js"
import type { TreeEntry } from "../files/treePaths.js"
import { remoteSha256s, removeRemote } from "./hostHashes.js"
import { type FileResult, listingHint, type TransferHost, type TransferRequest } from "./model.js"
import { putFile } from "./pipeline.js"
import { existingCommand, parseExisting } from "./remoteHash.js"
import { call, join, rename, sftpFailure, tempName } from "./sftpCall.js"

/** Files copied at once in a tree (each with its own requests in flight). */
export const FILES_IN_FLIGHT = 32

/**
 * What already exists where a tree's files go, asked once for all their directories (type
 * letter by relative path); undefined when the host cannot say (no GNU find).
 */
export const existingTypes = (host: TransferHost, root: string, entries: ReadonlyArray<TreeEntry>) =>
  Effect.gen(function*() {
    const dirs = new Set(entries.map((e) => e.rel.includes("/") ? `./${e.rel.slice(0, e.rel.lastIndexOf("/"))}` : "."))
    const r = yield* host.run(existingCommand(root), {
      step: `the listing (find) of what exists in ${root} on ${host.alias}`,
      maxStdout: host.listingCap,
      hint: listingHint,
      stdin: [...dirs].map((d) => `${d}\0`).join("")
    })
    return r.code === 0 ? parseExisting(r.stdout) : undefined
  })

/** Why a target must not be replaced, if it must not. */
export const refusal = (target: string, existing: { readonly dir: boolean } | undefined, request: TransferRequest) =>
  existing?.dir === true
    ? new SftpError({ message: `remote_path ${target} is a directory` })
    : existing !== undefined && request.overwrite === false
    ? new SftpError({ message: `remote_path ${target} exists and overwrite is false` })
    : undefined

export const sftpUpload = (host: TransferHost, sftp: SFTPWrapper, request: TransferRequest, entries: ReadonlyArray<TreeEntry>, tick: (n: number) => void) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = request.remotePath
    const temps: Array<string> = []
    const tree = !(entries.length === 1 && entries[0]!.rel === "")
    // A tree asks once what is already in its directories instead of one stat per file.
    const types = tree ? yield* existingTypes(host, root, entries) : undefined
    const existingOf = (target: string, rel: string) => {
      const type = types?.get(rel)
      // Unknown (no listing) or a symlink: ask the server, which follows it as the rename's target check did.
      if (types === undefined || type === "l") {
        return call<Stats | undefined>(`remote_path ${target}`, (cb) => sftp.stat(target, (err, st) => cb(null, err ? undefined : st))).pipe(
          Effect.map((st) => st === undefined ? undefined : { dir: st.isDirectory() })
        )
      }
      return Effect.succeed(type === undefined ? undefined : { dir: type === "d" })
    }
    return yield* Effect.gen(function*() {
      const sent = yield* Effect.forEach(entries, (e) =>
        Effect.gen(function*() {
          const local = join(request.localPath, e.rel)
          const target = join(root, e.rel)
          const stat = yield* Effect.mapError(fs.stat(local), (err) => sftpFailure(`local_path ${local}`, err))
          const existing = yield* existingOf(target, e.rel)
          const refused = refusal(target, existing, request)
          if (refused !== undefined) return yield* refused
          const temp = tempName(target)
          temps.push(temp)
          const copied = yield* Effect.tryPromise({
            try: (signal) => putFile(sftp, local, temp, { signal, onBytes: tick }),
            catch: (err) => sftpFailure(`uploading ${local} to ${target}`, err)
          })
          return { e, target, temp, copied, exists: existing !== undefined, mode: request.mode ?? (stat.mode & 0o777) }
        }), { concurrency: FILES_IN_FLIGHT })
      // The temporary files relative to where the host hashes them: the tree's root, or a single file's directory.
      const base = tree ? root : path.posix.dirname(sent[0]!.temp)
      const remoteRel = (temp: string) => path.posix.relative(base, temp)
      const sums = yield* remoteSha256s(host, base, sent.map((f) => remoteRel(f.temp)))
      const bad = sent.find((f) => sums.get(remoteRel(f.temp)) !== f.copied.sha256)
      if (bad !== undefined) {
        return yield* new ChecksumMismatchError({
          message: `${bad.target}: sha256 differs after upload (local ${bad.copied.sha256}, remote ${sums.get(remoteRel(bad.temp))}); ${entries.length > 1 ? "no file was replaced" : "target left unchanged"}`
        })
      }
      return yield* Effect.forEach(sent, (f) =>
        Effect.gen(function*() {
          yield* call<void>(`chmod ${f.temp}`, (cb) => sftp.chmod(f.temp, f.mode, (err) => cb(err, undefined)))
          yield* rename(sftp, f.temp, f.target, f.exists)
          return { path: f.e.rel, bytes: f.copied.bytes, sha256Local: f.copied.sha256, sha256Remote: f.copied.sha256, mode: f.mode } satisfies FileResult
        }), { concurrency: FILES_IN_FLIGHT })
    }).pipe(Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : removeRemote(host, temps)))
  })
