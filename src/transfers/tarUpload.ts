/**
 * Upload a tree as one tar stream: the host unpacks it into a new 0700 directory in the
 * target's root and hashes every file there in one command (a lone file as it lands), compared with the hashes taken
 * here as the bytes were sent; only when all match are the files moved into place (a
 * directory new to the target in one rename, else file by file) and the directory removed. Any failure or
 * interruption removes the directory and replaces nothing. Undefined when the host or the
 * request needs the file-by-file SFTP path instead.
 *
 * @since 0.2.0
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { ChecksumMismatchError, SftpError } from "../domain/errors.js"
import { HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import { remoteSha256, removeRemote } from "./hostHashes.js"
import type { LocalEntry } from "./localFiles.js"
import type { FileResult, TransferHost, TransferRequest } from "./model.js"
import { manyFilesMaxOutput, parseMany } from "./remoteHash.js"
import { join, streamFailure } from "./sftpCall.js"
import { existingTypes, refusal } from "./sftpUpload.js"
import { placeCommand, placeInput, probeCommand, unpackCommand, unpackOneCommand } from "./tarCommands.js"
import { sendTree } from "./treeStream.js"

/** Whether the host has GNU tar, find and mv. */
export const hostHasTar = (host: TransferHost) =>
  Effect.map(host.run(probeCommand, { step: `the tar probe on ${host.alias}`, maxStdout: HELPER_SMALL_OUTPUT }), (r) => r.stdout.includes("tar-ok"))

export const tarUpload = (
  host: TransferHost,
  request: TransferRequest,
  entries: ReadonlyArray<LocalEntry>,
  tick: (n: number) => void,
  localOf: (rel: string) => string = (rel) => join(request.localPath, rel),
  /** Starts the temporary directory's name (a single file's name, as its SFTP temporary file's). */
  tempPrefix = ""
) =>
  Effect.gen(function*() {
    const root = request.remotePath
    const modes = entries.map((e) => request.mode ?? (e.mode & 0o777))
    // Missing directories (mkdirs false) or files we could not read back to hash: file by file.
    if (request.mkdirs === false || modes.some((m) => (m & 0o400) === 0)) return undefined
    const [ok, types] = yield* Effect.all([hostHasTar(host), existingTypes(host, root, entries)], { concurrency: 2 })
    // A symlink in the way is resolved by the SFTP server on the file-by-file path.
    if (!ok || types === undefined || entries.some((e) => types.get(e.rel) === "l")) return undefined
    for (const e of entries) {
      const type = types.get(e.rel)
      const refused = refusal(join(root, e.rel), type === undefined ? undefined : { dir: type === "d" }, request)
      if (refused !== undefined) return yield* refused
    }
    const temp = `.${tempPrefix}mcpssh-${randomBytes(6).toString("hex")}.tmp`
    return yield* Effect.gen(function*() {
      // One file (a single-file upload): hashed on the host as it lands, not in a pass after.
      const ch = yield* host.exec(entries.length === 1 ? unpackOneCommand(root, temp, entries[0]!.rel) : unpackCommand(root, temp))
      const output = {
        step: `the host's tar -x and sha256 (unpacking into ${root} on ${host.alias})`,
        maxStdout: manyFilesMaxOutput(entries.map((e) => e.rel))
      }
      const { sent, result } = yield* Effect.tryPromise({
        try: (signal) =>
          sendTree(ch, entries.map((e, i) => ({ rel: e.rel, path: localOf(e.rel), mode: modes[i]! })), entries.map((e) => e.size), tick, output, signal),
        catch: (e) => streamFailure(`uploading ${request.localPath} to ${root}`, e)
      })
      if (result.code !== 0) {
        return yield* new SftpError({ message: `cannot unpack into ${root} on ${host.alias}: ${result.stderr.trim().slice(0, 500) || `exit ${result.code}`}; nothing was replaced` })
      }
      const rels = entries.map((e) => e.rel)
      const sums = parseMany(result.stdout, rels)
      // Names the hasher's output cannot carry unambiguously (a raw newline): hashed alone.
      for (const rel of rels.filter((r) => !sums.has(r))) sums.set(rel, yield* remoteSha256(host, join(`${root}/${temp}`, rel)))
      const bad = entries.find((e) => sums.get(e.rel) !== sent.get(e.rel)?.sha256)
      if (bad !== undefined) {
        return yield* new ChecksumMismatchError({
          message: `${join(root, bad.rel)}: sha256 differs after upload (local ${sent.get(bad.rel)?.sha256}, remote ${sums.get(bad.rel)}); no file was replaced`
        })
      }
      const placed = yield* host.run(placeCommand(root, temp), {
        step: `the move of the verified files into ${root} on ${host.alias}`,
        maxStdout: HELPER_SMALL_OUTPUT,
        stdin: placeInput(rels)
      })
      if (placed.code !== 0) return yield* new SftpError({ message: `cannot move the verified files into ${root} on ${host.alias}: ${placed.stderr.trim().slice(0, 500)}` })
      return entries.map((e, i): FileResult => {
        const s = sent.get(e.rel)!
        return { path: e.rel, bytes: s.bytes, sha256Local: s.sha256, sha256Remote: sums.get(e.rel)!, mode: modes[i]! }
      })
    }).pipe(Effect.scoped, Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : removeRemote(host, [join(root, temp)], true)))
  })
