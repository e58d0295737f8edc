/**
 * A single large file downloaded over several exec channels at once ("lanes", lanes.ts)
 * where the link is long: one channel carries at most its window per round trip, whatever
 * the link could do. Each lane reads ranges of the file on the host (`dd`) and they are
 * written here at their offsets into a file created exclusively in a private directory next
 * to the target, hashed in file order as they arrive (rangeReceive.ts), while a hasher
 * channel hashes the file on the host alongside them (rangeCommands.ts). Only when the two
 * digests match is the file, its mode set through its descriptor, renamed over the target;
 * the private directory goes whatever happens, and the host is left nothing (the lanes and
 * the hasher create no file there, and end with their channels).
 *
 * Lanes are channels like any other: they count against sshd's MaxSessions with the jobs,
 * and the connection pool opens another connection when a host's sessions run out.
 *
 * @since 0.3.0
 */
import * as path from "node:path"
import { Clock, Effect } from "effect"
import { ChecksumMismatchError } from "../domain/errors.js"
import { SSH2_WINDOW } from "../ssh/execChannel.js"
import { uploadPlan } from "./lanes.js"
import { localMode, type TransferHost, type TransferRequest } from "./model.js"
import { readerCommand, sourceHasherCommand } from "./rangeCommands.js"
import { receiveRanges } from "./rangeReceive.js"
import { MIN_RTT_FOR_LANES } from "./rangeUpload.js"
import { sftpFailure } from "./sftpCall.js"
import { checkTargets, type LocalTarget, placeLocal, privateTemps } from "./sftpDownload.js"

/**
 * Download `request.remotePath` (a regular file of `size` bytes and mode `hostMode`, as the
 * host's stat said) to `request.localPath` over lanes, when the link is long enough for them
 * to help and the host has the tools; undefined for the caller's single-stream path otherwise
 * (nothing was written then).
 */
export const rangeDownload = (host: TransferHost, request: TransferRequest, size: number, hostMode: number, tick: (n: number) => void) =>
  Effect.scoped(Effect.gen(function*() {
    const source = request.remotePath
    // Opening the hasher's channel is one round trip: it measures the link.
    const t0 = yield* Clock.currentTimeMillis
    const hasher = yield* host.exec(sourceHasherCommand(source))
    const rttMs = (yield* Clock.currentTimeMillis) - t0
    const plan = uploadPlan(size, rttMs)
    // Not told `go`, the hasher ends with its channel having read nothing.
    if (rttMs < MIN_RTT_FOR_LANES || plan.lanes < 2) return undefined
    const target: LocalTarget = { rel: path.basename(request.localPath), source, target: request.localPath }
    yield* checkTargets(request, [target])
    const temps = privateTemps([target])
    return yield* Effect.gen(function*() {
      yield* temps.prepare
      const temp = temps.tempFor(target, 0)
      yield* Effect.logDebug(`${host.alias}: downloading ${source} over ${plan.lanes} lanes, ${plan.chunk / 1048576} MiB chunks (round trip ~${rttMs} ms)`)
      // Two ranges asked of a lane at once: a window that holds both lets them come in one round trip.
      const window = Math.max(SSH2_WINDOW, 2 * plan.chunk)
      const lanes = yield* Effect.all(Array.from({ length: plan.lanes }, () => host.exec(readerCommand(source), { window })), { concurrency: "unbounded" })
      const r = yield* Effect.tryPromise({
        try: (signal) =>
          receiveRanges({ lanes, hasher, temp, size, chunk: plan.chunk, mode: localMode(request, hostMode), onBytes: tick, signal }),
        catch: (e) => sftpFailure(`downloading ${source}`, e)
      })
      if (r._tag === "NotHere") {
        yield* Effect.logDebug(`${host.alias}: not over lanes (${r.why}): one stream instead`)
        return undefined
      }
      if (r.sha256Remote !== r.sha256Local) {
        return yield* new ChecksumMismatchError({
          message: `${source}: sha256 differs after download (remote ${r.sha256Remote}, local ${r.sha256Local}); target left unchanged`
        })
      }
      const files = yield* placeLocal(request, [{ t: target, temp, bytes: r.bytes, sha256: r.sha256Local, mode: hostMode }])
      return files.map((f) => ({ ...f, path: "" }))
    }).pipe(Effect.ensuring(temps.remove))
  }))
