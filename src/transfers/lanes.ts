/**
 * How a single file's upload is split over lanes (exec channels carrying chunks of it at
 * once): how many, how large the chunks. One SSH channel carries at most its window per round
 * trip (sshd's is 2 MiB, topped up once half is used: ~25 MiB/s per channel across 50 ms,
 * measured), a limit of the channel, not of the link: several lanes go past it. None on
 * loopback or a LAN (the caller's single stream: the CPU is the limit there, and each lane
 * costs), more the longer the round trip, within what the file needs.
 *
 * Lanes are channels like any other: they count against sshd's MaxSessions with the jobs, and
 * the connection pool opens another connection when a host's sessions run out.
 *
 * @since 0.3.0
 */

const MiB = 1024 * 1024

/** Most lanes of one transfer (plus its hasher: 9 channels, under sshd's default MaxSessions of 10). */
export const MAX_LANES = 8

export interface LanePlan {
  readonly lanes: number
  /** Bytes per chunk (a multiple of 1 MiB; the last chunk is shorter). */
  readonly chunk: number
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

/**
 * Chunks of about a quarter of each lane's share, 1–4 MiB: a chunk is a `dd` on the host (and
 * one more for its hash), and what is read ahead of the hash here is about a chunk per lane.
 */
const chunkFor = (size: number, lanes: number) => clamp(Math.round(size / (lanes * 4) / MiB), 1, 4) * MiB

/**
 * One lane per 6 ms of round trip (8 across 50 ms), at most `MAX_LANES`, and no more than the
 * file has megabytes.
 */
export const uploadPlan = (size: number, rttMs: number): LanePlan => {
  const lanes = clamp(Math.min(Math.ceil(rttMs / 6), Math.ceil(size / MiB)), 1, MAX_LANES)
  return { lanes, chunk: chunkFor(size, lanes) }
}
