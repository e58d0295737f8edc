/**
 * A single large file uploaded over several exec channels at once ("lanes", lanes.ts) where
 * the link is long: one SSH channel carries at most sshd's window (2 MiB) per round trip,
 * 40 MiB/s across 50 ms, whatever the link could do. The lanes write ranges of the file into
 * a temporary file next to the target while a hasher channel hashes what they have written,
 * in order (rangeCommands.ts, rangeSend.ts); the whole file's sha256 is compared on the host,
 * and only a match is renamed over the target. The host removes the temporary file itself on
 * anything else (a cancel, a mismatch, a dropped connection); we also remove it on failure.
 *
 * Lanes are channels like any other: they count against sshd's MaxSessions with the jobs,
 * and the connection pool opens another connection when a host's sessions run out.
 *
 * @since 0.3.0
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { Clock, Effect } from "effect"
import { ChecksumMismatchError } from "../domain/errors.js"
import { removeRemote } from "./hostHashes.js"
import { uploadPlan } from "./lanes.js"
import type { FileResult, TransferHost, TransferRequest } from "./model.js"
import { hasherCommand, writerCommand } from "./rangeCommands.js"
import { sendRanges } from "./rangeSend.js"
import { sftpFailure } from "./sftpCall.js"

/** Below this round trip (ms) one stream does as well (loopback, a LAN): the caller's path. */
export const MIN_RTT_FOR_LANES = 15

/**
 * Upload `local` (a regular file of `size` bytes, its real path) to `request.remotePath` over
 * lanes, when the link is long enough for them to help and the host has the tools; undefined
 * for the caller's single-stream path otherwise (nothing is left on the host then).
 */
export const rangeUpload = (
  host: TransferHost,
  request: TransferRequest,
  local: string,
  size: number,
  sourceMode: number,
  tick: (n: number) => void
) =>
  Effect.gen(function*() {
    const dir = path.posix.dirname(request.remotePath)
    const name = path.posix.basename(request.remotePath)
    const mode = request.mode ?? (sourceMode & 0o777)
    const temp = `.${name.slice(0, 100)}.mcpssh-${randomBytes(6).toString("hex")}.tmp`
    // Each channel is closed when this ends (host.exec's channels close with the scope),
    // however it ends: the host's shells then see the end of their input, and the hasher
    // removes the temporary file unless it placed it.
    const open = (command: string) => host.exec(command)
    return yield* Effect.scoped(Effect.gen(function*() {
      const hasherOptions = { mkdirs: request.mkdirs !== false, overwrite: request.overwrite !== false, mode }
      const writer = () => open(writerCommand(path.posix.join(dir, temp)))
      const known = host.roundTrip.known()
      // The round trip known from an earlier transfer (a long link): the hasher and the lanes
      // open at once, and the hasher creates the temporary file without waiting for `go`.
      const atOnce = known !== undefined && known >= MIN_RTT_FOR_LANES && uploadPlan(size, known).lanes >= 2
      // Opening the hasher's channel is one round trip: it measures the link.
      const t0 = yield* Clock.currentTimeMillis
      const timed = Effect.tap(open(hasherCommand(dir, temp, name, { ...hasherOptions, atOnce })), () =>
        Effect.map(Clock.currentTimeMillis, (t) => host.roundTrip.seen(t - t0)))
      const opened = atOnce
        ? yield* Effect.map(
          Effect.all([timed, ...Array.from({ length: uploadPlan(size, known).lanes }, writer)], { concurrency: "unbounded" }),
          ([hasher, ...lanes]) => ({ hasher, lanes, plan: uploadPlan(size, known) })
        )
        : yield* Effect.gen(function*() {
          const hasher = yield* timed
          const rttMs = (yield* Clock.currentTimeMillis) - t0
          const plan = uploadPlan(size, rttMs)
          if (rttMs < MIN_RTT_FOR_LANES || plan.lanes < 2) return undefined
          return { hasher, lanes: yield* Effect.all(Array.from({ length: plan.lanes }, writer), { concurrency: "unbounded" }), plan }
        })
      if (opened === undefined) return undefined
      const { hasher, lanes, plan } = opened
      yield* Effect.logDebug(`${host.alias}: uploading ${request.remotePath} over ${plan.lanes} lanes, ${plan.chunk / 1048576} MiB chunks (round trip ~${host.roundTrip.known()} ms${atOnce ? ", known before" : ""})`)
      const r = yield* Effect.tryPromise({
        try: (signal) => sendRanges({ lanes, hasher, file: local, size, chunk: plan.chunk, onBytes: tick, signal, atOnce }),
        catch: (e) => sftpFailure(`uploading ${request.localPath} to ${request.remotePath}`, e)
      })
      if (r._tag === "NotHere") {
        yield* Effect.logDebug(`${host.alias}: not over lanes (${r.why}): one stream instead`)
        return undefined
      }
      if (!r.placed) {
        return yield* new ChecksumMismatchError({
          message: `${request.remotePath}: sha256 differs after upload (local ${r.sent.sha256Local}, remote ${r.sent.sha256Remote ?? "none"}); the target was not replaced`
        })
      }
      return [{ path: "", bytes: r.sent.bytes, sha256Local: r.sent.sha256Local, sha256Remote: r.sent.sha256Local, mode }] satisfies Array<FileResult>
    })).pipe(
      // The host removes it on its own once the hasher's input ends; this covers a hasher cut short.
      Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : removeRemote(host, [path.posix.join(dir, temp)]))
    )
  })
