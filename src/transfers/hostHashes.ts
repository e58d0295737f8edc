/**
 * What the transfers ask of the host's shell: sha256 of one or many files (one command for
 * a whole tree) and the removal of temporary files.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { SftpError } from "../domain/errors.js"
import { HELPER_SMALL_OUTPUT } from "../ssh/collect.js"
import type { TransferHost } from "./model.js"
import { manyFilesCommand, manyFilesInput, manyFilesMaxOutput, oneFileCommand, parseMany, parseOne } from "./remoteHash.js"
import { join } from "./sftpCall.js"

export const remoteSha256 = (host: TransferHost, file: string) =>
  Effect.gen(function*() {
    const r = yield* host.run(oneFileCommand(file), { step: `the sha256 (openssl, sha256sum) of ${file} on ${host.alias}`, maxStdout: HELPER_SMALL_OUTPUT })
    const hex = parseOne(r.stdout)
    if (hex === undefined) return yield* new SftpError({ message: `cannot compute sha256 of ${file} on ${host.alias}: ${r.stderr.trim() || "no openssl, sha256sum or shasum"}` })
    return hex
  })

/**
 * The host's sha256 of `dir`/`rel` for each of `rels`: one command for all, then each file
 * its answer did not cover hashed alone (a single file goes straight to the latter).
 */
export const remoteSha256s = (host: TransferHost, dir: string, rels: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let found = new Map<string, string>()
    if (rels.length > 1) {
      const r = yield* host.run(manyFilesCommand(dir), {
        step: `the sha256 (openssl, sha256sum) of ${rels.length} files in ${dir} on ${host.alias}`,
        maxStdout: manyFilesMaxOutput(rels),
        stdin: manyFilesInput(rels)
      })
      found = parseMany(r.stdout, rels)
    }
    const missing = rels.filter((rel) => !found.has(rel))
    const alone = yield* Effect.forEach(missing, (rel) => remoteSha256(host, join(dir, rel)), { concurrency: 4 })
    missing.forEach((rel, i) => found.set(rel, alone[i]!))
    return found
  })

/** Remove temporary files even after the connection died (a new one is opened for it). */
export const removeRemote = (host: TransferHost, files: ReadonlyArray<string>, recursive = false) =>
  files.length === 0 ? Effect.void : host.run(`xargs -0 rm -${recursive ? "r" : ""}f --`, {
      step: `the removal of temporary files on ${host.alias}`,
      maxStdout: HELPER_SMALL_OUTPUT,
      stdin: files.map((f) => `${f}\0`).join("")
    }).pipe(
    Effect.timeout("30 seconds"),
    Effect.ignore
  )
