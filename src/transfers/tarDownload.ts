/**
 * Download a tree as one tar stream: the host's tar packs exactly the files its listing
 * named (no links followed or sent, hard links as files) while the host hashes them in one
 * command; the archive is read here into a private 0700 directory per target directory,
 * refusing any entry not asked for, a link, a device or an unsafe name, and each file is
 * hashed as it passes. Only when every digest matches are the files renamed into place; the
 * private directories are removed whatever happens. Undefined when the host has no GNU tar.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { ChecksumMismatchError, type RemoteOutputTooLargeError, SftpError } from "../domain/errors.js"
import { remoteSha256s } from "./hostHashes.js"
import { localMode, type TransferHost, type TransferRequest } from "./model.js"
import { streamFailure } from "./sftpCall.js"
import { checkTargets, type LocalTarget, placeLocal, privateTemps } from "./sftpDownload.js"
import { packCommand } from "./tarCommands.js"
import { hostHasTar } from "./tarUpload.js"
import { type Expected, receiveTree } from "./treeStream.js"

/**
 * The archive's receive window: ssh2's 2 MiB would carry at most 2 MiB per round trip (40
 * MiB/s across 50 ms); 16 MiB lets a long link fill. What waits unread is bounded by it.
 */
export const RECEIVE_WINDOW = 16 * 1024 * 1024

export const tarDownload = (host: TransferHost, request: TransferRequest, remoteRoot: string, targets: ReadonlyArray<LocalTarget>, tick: (n: number) => void) =>
  Effect.gen(function*() {
    if (!(yield* hostHasTar(host))) return undefined
    const temps = privateTemps(targets)
    return yield* Effect.gen(function*() {
      yield* checkTargets(request, targets)
      yield* temps.prepare
      const expected = new Map<string, Expected>(targets.map((t, i) => [t.rel, { temp: temps.tempFor(t, i) }]))
      const [sums, { got, result }] = yield* Effect.all([
        remoteSha256s(host, remoteRoot, targets.map((t) => t.rel)),
        Effect.scoped(Effect.flatMap(host.exec(packCommand(remoteRoot), { window: RECEIVE_WINDOW }), (ch) =>
          Effect.callback<Awaited<ReturnType<typeof receiveTree>>, SftpError | RemoteOutputTooLargeError>((resume) => {
            const controller = new AbortController()
            const step = `the host's tar -c (packing ${remoteRoot} on ${host.alias})`
            const running = receiveTree(ch, targets.map((t) => `./${t.rel}\0`).join(""), expected, tick, step, (m) => localMode(request, m), controller.signal).then(
              (r) => resume(Effect.succeed(r)),
              (e) => resume(Effect.fail(streamFailure(`downloading ${remoteRoot}`, e)))
            )
            // Interrupted: stop, and wait until every local write has settled before the directories go.
            return Effect.promise(() => {
              controller.abort()
              return running
            })
          })))
      ], { concurrency: 2 })
      if (result.code !== 0) {
        return yield* new SftpError({ message: `cannot pack ${remoteRoot} on ${host.alias}: ${result.stderr.trim().slice(0, 500) || `exit ${result.code}`}; nothing was downloaded` })
      }
      const missing = targets.find((t) => !got.has(t.rel))
      if (missing !== undefined) return yield* new SftpError({ message: `the host's tar did not send ${missing.source}; nothing was replaced` })
      const bad = targets.find((t) => sums.get(t.rel) !== got.get(t.rel)!.sha256)
      if (bad !== undefined) {
        return yield* new ChecksumMismatchError({
          message: `${bad.source}: sha256 differs after download (remote ${sums.get(bad.rel)}, local ${got.get(bad.rel)!.sha256}); no file was replaced`
        })
      }
      return yield* placeLocal(request, targets.map((t) => ({ t, temp: expected.get(t.rel)!.temp, ...got.get(t.rel)! })))
    }).pipe(Effect.ensuring(temps.remove))
  })
