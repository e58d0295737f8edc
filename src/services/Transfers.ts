/**
 * File and directory transfers (files over SFTP, trees as one tar stream over exec), atomic
 * and verified: a file goes to a temporary name next to its
 * target, its sha256 is computed here on the bytes as they pass and on the host by its own
 * tool (one command for a whole tree), and only a match is renamed over the target. A tree
 * is all or nothing: nothing is renamed before every file is verified. On any failure,
 * mismatch or interruption the temporary files are removed and the targets are untouched.
 * The work is done in src/transfers/ (upload.ts, download.ts and what they use); this is the
 * service over a host alias.
 *
 * Trust (docs/SECURITY.md; docs/CONFIG.md, "Local files"): the local path, and every local file of a tree, must lie under
 * `[server] local_roots` (default: home and the temp directory, narrowed by a stdio client's
 * roots) and outside /proc, /sys, /dev, ~/.ssh and the server's own files, by its real path
 * (src/files/localRoots.ts), or the call is LOCAL_PATH_DENIED before anything is read,
 * written or sent; the transfer then works on that real path. A directory's listing from the
 * host is refused whole if any entry is not a plain relative path; every local target is
 * resolved under `local_path` without following symlinks out of it; only permission bits
 * (0o777) of a remote file are copied; local temporary files are 0600 in a fresh 0700
 * directory.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as path from "node:path"
import { Context, Effect, FileSystem, Layer } from "effect"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { LocalPathDeniedError } from "../domain/errors.js"
import { denial, makeLocalRoots, narrowTo, realLocalPath } from "../files/localRoots.js"
import { download } from "../transfers/download.js"
import { type LocalCheck, localRootsHint, type TransferError, type TransferHost, type TransferRequest, type TransferResult } from "../transfers/model.js"
import { sftpFailure } from "../transfers/sftpCall.js"
import { FILES_IN_FLIGHT } from "../transfers/sftpUpload.js"
import { upload } from "../transfers/upload.js"
import { AppConfig } from "../domain/AppConfig.js"
import { collect } from "../ssh/collect.js"
import { Connections } from "./Connections.js"
import { HostRegistry } from "./HostRegistry.js"

export type { FileResult, TransferRequest, TransferResult } from "../transfers/model.js"

export class Transfers extends Context.Service<Transfers, {
  upload(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
  download(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
}>()("mcp-ssh-live/Transfers") {
  /** Needs a `FileSystem` (the local side). */
  static readonly layerNoFs = Layer.effect(Transfers)(Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry
    const fs = yield* FileSystem.FileSystem
    const config = yield* AppConfig

    // Per alias: the link's round trip as the last transfer over lanes measured it.
    const roundTrips = new Map<string, number>()
    const transferHost = (alias: string): TransferHost => ({
      alias,
      run: (command, options) => collect(connections.exec(alias, command), options),
      listingCap: config.limits.maxListingBytes,
      exec: (command, options) => connections.exec(alias, command, options),
      // Every file in flight watches the session's close event.
      session: Effect.tap(connections.sftp(alias), (sftp) => Effect.sync(() => sftp.setMaxListeners(FILES_IN_FLIGHT + 10))),
      roundTrip: { known: () => roundTrips.get(alias), seen: (ms) => void roundTrips.set(alias, ms) }
    })

    const localRoots = yield* makeLocalRoots({
      explicitRoots: config.localRoots,
      home: os.homedir(),
      tmp: os.tmpdir(),
      own: [
        { path: config.knownHostsPath, what: "the server's known_hosts" },
        ...(config.configPath !== undefined ? [{ path: config.configPath, what: "the server's config file" }] : []),
        ...(config.auditLog !== undefined ? [{ path: config.auditLog, what: "the server's audit log" }] : []),
        ...(config.logDir !== undefined ? [{ path: config.logDir, what: "the server's log directory" }] : []),
        ...(config.recordDir !== undefined ? [{ path: config.recordDir, what: "the server's recordings directory" }] : []),
        ...config.hosts.flatMap((h) => h.key !== undefined ? [{ path: h.key, what: `the key of host ${h.alias}` }] : [])
      ]
    })

    /**
     * The real path of the request's local path (for a download, the real directory it names
     * or the entry it replaces in its real parent), and the check of a tree's files; fails
     * when the rules forbid it.
     */
    const confine = (request: TransferRequest, write: boolean) =>
      Effect.gen(function*() {
        const clientRoots = request.clientRoots === undefined
          ? undefined
          : yield* Effect.forEach(request.clientRoots, (r) => realLocalPath(r).pipe(Effect.orElseSucceed(() => path.resolve(r))))
        const rules = narrowTo(localRoots, clientRoots)
        const real = yield* realLocalPath(request.localPath, write).pipe(Effect.mapError((e) => sftpFailure(`local_path ${request.localPath}`, e)))
        const why = denial(rules, real)
        if (why !== undefined) {
          const shown = real === path.resolve(request.localPath) ? request.localPath : `${request.localPath} (real path ${real})`
          return yield* new LocalPathDeniedError({ message: `local_path ${shown} ${why}`, hint: localRootsHint })
        }
        const check: LocalCheck = (p) => denial(rules, p)
        return { real, check }
      })

    const withHost = (name: string, run: typeof upload, write: boolean) =>
      Effect.fn(name)(function*(request: TransferRequest) {
        const { real, check } = yield* confine(request, write)
        const host = yield* registry.resolve(request.host)
        return yield* run(transferHost(host.alias), { ...request, localPath: real }, check).pipe(Effect.provideService(FileSystem.FileSystem, fs))
      })

    return Transfers.of({ upload: withHost("Transfers.upload", upload, false), download: withHost("Transfers.download", download, true) })
  }))

  static readonly layer = Transfers.layerNoFs.pipe(Layer.provide(NodeFileSystem.layer))
}
