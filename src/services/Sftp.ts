/**
 * File transfer over SFTP, atomic and verified: a file goes to a temporary name next to its
 * target, its sha256 is computed here on the bytes as they pass and on the host by its own
 * tool (one command for a whole tree), and only a match is renamed over the target. A tree
 * is all or nothing: nothing is renamed before every file is verified. On any failure,
 * mismatch or interruption the temporary files are removed and the targets are untouched.
 * The work is done in src/sftp/ (upload.ts, download.ts and what they use); this is the
 * service over a host alias.
 *
 * Trust (SPEC §8): a directory's listing from the host is refused whole if any entry is not
 * a plain relative path; every local target is resolved under `local_path` without following
 * symlinks out of it; only permission bits (0o777) of a remote file are copied; local
 * temporary files are 0600 in a fresh 0700 directory.
 *
 * @since 0.1.0
 */
import { Context, Effect, FileSystem, Layer } from "effect"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { download } from "../sftp/download.js"
import type { TransferError, TransferHost, TransferRequest, TransferResult } from "../sftp/model.js"
import { FILES_IN_FLIGHT } from "../sftp/sftpUpload.js"
import { upload } from "../sftp/upload.js"
import { collect } from "../ssh/collect.js"
import { Connections } from "./Connections.js"
import { HostRegistry } from "./HostRegistry.js"

export type { FileResult, TransferRequest, TransferResult } from "../sftp/model.js"

export class Sftp extends Context.Service<Sftp, {
  upload(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
  download(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
}>()("mcp-ssh-live/Sftp") {
  /** Needs a `FileSystem` (the local side). */
  static readonly layerNoFs = Layer.effect(Sftp)(Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry
    const fs = yield* FileSystem.FileSystem

    const transferHost = (alias: string): TransferHost => ({
      alias,
      run: (command, stdin) => Effect.flatMap(connections.exec(alias, command), (ch) => collect(ch, stdin)),
      exec: (command) => connections.exec(alias, command),
      session: Effect.acquireRelease(
        // Every file in flight watches the session's close event.
        Effect.tap(connections.sftp(alias), (sftp) => Effect.sync(() => sftp.setMaxListeners(FILES_IN_FLIGHT + 10))),
        (sftp) => Effect.sync(() => sftp.end())
      )
    })

    const withHost = (name: string, run: typeof upload) =>
      Effect.fn(name)(function*(request: TransferRequest) {
        const host = yield* registry.resolve(request.host)
        return yield* run(transferHost(host.alias), request).pipe(Effect.provideService(FileSystem.FileSystem, fs))
      })

    return Sftp.of({ upload: withHost("Sftp.upload", upload), download: withHost("Sftp.download", download) })
  }))

  static readonly layer = Sftp.layerNoFs.pipe(Layer.provide(NodeFileSystem.layer))
}
