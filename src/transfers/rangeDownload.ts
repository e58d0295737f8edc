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
 * Round trips are what a 64 MiB file across a WAN spends most on, so this is tried first,
 * while the SFTP session the other paths need opens alongside: the hasher's open measures
 * the link, its first line says whether the path is a regular file it can read (with its
 * size and mode: no SFTP stat), and the lanes open while it answers.
 *
 * Lanes are channels like any other: they count against sshd's MaxSessions with the jobs,
 * and the connection pool opens another connection when a host's sessions run out.
 *
 * @since 0.3.0
 */
import * as path from "node:path"
import { Clock, Effect, FiberSet, FileSystem, type Scope } from "effect"
import { ChecksumMismatchError } from "../domain/errors.js"
import { MAX_LANES, uploadPlan } from "./lanes.js"
import { localMode, type TransferHost, type TransferRequest } from "./model.js"
import { progress } from "./progress.js"
import { readerCommand, sourceHasherCommand } from "./rangeCommands.js"
import { rangeReceiver } from "./rangeReceive.js"
import { MIN_RTT_FOR_LANES } from "./rangeUpload.js"
import { sftpFailure } from "./sftpCall.js"
import { checkTargets, type LocalTarget, placeLocal, privateTemps } from "./sftpDownload.js"
import { SINGLE_VIA_STREAM } from "./upload.js"

/**
 * Most lanes of a download: one fewer than an upload's, for the SFTP session that opens
 * alongside (9 channels with the hasher and 10 with it, sshd's default MaxSessions).
 */
const MAX_DOWNLOAD_LANES = MAX_LANES - 1

/** A lane's receive window: its two ranges in flight (at most 4 MiB each) in one round trip. */
const LANE_WINDOW = 8 * 1024 * 1024

/**
 * Download `request.remotePath` to `request.localPath` (a real path the caller checked) over
 * lanes, when the link is long enough for them to help, the path is a regular file of at
 * least `SINGLE_VIA_STREAM` bytes and the host has the tools; undefined for the caller's
 * paths otherwise (nothing was written then). Reports progress itself.
 */
export const rangeDownload = (host: TransferHost, request: TransferRequest) =>
  Effect.scoped(Effect.gen(function*() {
    const source = request.remotePath
    const run = yield* FiberSet.makeRuntimePromise<Scope.Scope>()
    const openLanes = (n: number) => {
      const opening = Array.from({ length: n }, () => run(host.exec(readerCommand(source), { window: LANE_WINDOW })))
      // Each is used below or closed; an open cut short by the end of the scope is no error.
      for (const p of opening) p.catch(() => {})
      return opening
    }
    const lanesFor = (rttMs: number) => Math.min(MAX_DOWNLOAD_LANES, uploadPlan(Number.MAX_SAFE_INTEGER, rttMs).lanes)
    // The round trip known from an earlier transfer (a long link): the lanes open with the
    // hasher, one round trip sooner.
    const known = host.roundTrip.known()
    const early = known !== undefined && known >= MIN_RTT_FOR_LANES && lanesFor(known) >= 2 ? openLanes(lanesFor(known)) : undefined
    // Opening the hasher's channel is one round trip: it measures the link.
    const t0 = yield* Clock.currentTimeMillis
    const receiver = rangeReceiver(yield* host.exec(sourceHasherCommand(source)))
    const rttMs = (yield* Clock.currentTimeMillis) - t0
    host.roundTrip.seen(rttMs)
    // As many lanes as the round trip asks for, opened while the hasher answers (fewer used for a small file).
    const most = early?.length ?? lanesFor(rttMs)
    // Not told `go`, the hasher ends with its channel having read nothing.
    if (early === undefined && (rttMs < MIN_RTT_FOR_LANES || most < 2)) return undefined
    const opening = early ?? openLanes(most)
    const verdict = yield* Effect.tryPromise({ try: (signal) => receiver.verdict(signal), catch: (e) => sftpFailure(`downloading ${source}`, e) })
    if (!verdict.ok) {
      yield* Effect.logDebug(`${host.alias}: ${source} not over lanes (${verdict.why})`)
      return undefined
    }
    if (verdict.size < SINGLE_VIA_STREAM) return undefined
    const plan = uploadPlan(verdict.size, rttMs)
    const lanes = Math.min(most, plan.lanes)
    for (const p of opening.slice(lanes)) p.then((ch) => ch.close(), () => {})
    const fs = yield* FileSystem.FileSystem
    if (request.mkdirs !== false) {
      yield* Effect.mapError(fs.makeDirectory(path.dirname(request.localPath), { recursive: true }), (e) => sftpFailure(`local_path ${request.localPath}`, e))
    }
    const target: LocalTarget = { rel: path.basename(request.localPath), source, target: request.localPath }
    yield* checkTargets(request, [target])
    const temps = privateTemps([target])
    return yield* Effect.gen(function*() {
      yield* temps.prepare
      const temp = temps.tempFor(target, 0)
      const p = yield* progress(request.onProgress, verdict.size)
      yield* Effect.logDebug(`${host.alias}: downloading ${source} over ${lanes} lanes, ${plan.chunk / 1048576} MiB chunks (round trip ~${rttMs} ms${early !== undefined ? ", known before" : ""})`)
      const r = yield* Effect.tryPromise({
        try: (signal) =>
          receiver.receive({
            lanes: opening.slice(0, lanes),
            temp,
            size: verdict.size,
            chunk: plan.chunk,
            mode: localMode(request, verdict.mode),
            onBytes: p.add,
            signal
          }),
        catch: (e) => sftpFailure(`downloading ${source}`, e)
      })
      if (r.sha256Remote !== r.sha256Local) {
        return yield* new ChecksumMismatchError({
          message: `${source}: sha256 differs after download (remote ${r.sha256Remote}, local ${r.sha256Local}); target left unchanged`
        })
      }
      const files = yield* placeLocal(request, [{ t: target, temp, bytes: r.bytes, sha256: r.sha256Local, mode: verdict.mode }])
      yield* p.flush
      return files.map((f) => ({ ...f, path: "" }))
    }).pipe(Effect.ensuring(temps.remove))
  }))
