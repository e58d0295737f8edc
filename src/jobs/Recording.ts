/**
 * A job recorded as asciicast v2 (`ssh_spawn` with `record: true`): `<dir>/<job_id>.cast`,
 * created 0600 and exclusively (never through a symlink or over a file already there),
 * written from the job's first byte to its end (src/output/Asciicast.ts has the format and
 * what is kept out: secret stdin, masked secrets).
 *
 * @since 0.4.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { AsciicastWriter } from "../output/Asciicast.js"
import type { Job } from "./Job.js"

/** Recordings are named after their job; `dir` is the operator's. */
export const recordingPath = (dir: string, jobId: string): string => path.join(dir, `${jobId}.cast`)

const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/**
 * Start recording `job` into `file` (call before its first output): the writer collects
 * while the file is being opened. `onError` hears about a file that cannot be made.
 */
export const startRecording = (
  job: Job,
  file: string,
  size: { readonly cols: number; readonly rows: number },
  now: () => number,
  onError: (message: string) => void
): { close(): Promise<void> } => {
  const writer = new AsciicastWriter(
    { width: size.cols, height: size.rows, timestamp: Math.floor(job.startedAt.getTime() / 1000), title: job.label ?? undefined, command: job.command },
    now,
    job.startedAt.getTime(),
    () => job.secrets
  )
  let stream: fs.WriteStream | undefined
  let failed = false
  const { O_CREAT, O_EXCL, O_WRONLY } = fs.constants
  const opening = fs.promises.open(file, O_CREAT | O_EXCL | O_WRONLY | NOFOLLOW, 0o600).then(
    (handle) => {
      stream = fs.createWriteStream(file, { fd: handle })
      stream.on("error", (e) => onError(`recording of ${job.id}: ${e.message}`))
      writer.attach(stream)
    },
    (e: unknown) => {
      failed = true
      onError(`recording of ${job.id}: cannot create ${file}: ${(e as Error).message}`)
    }
  )
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= opening.then(() => {
      if (failed) return
      return writer.close()
    }))
  job.observe({
    output: (stream, chunk) => writer.output(stream, chunk),
    input: (data) => writer.input(data),
    end: () => void close()
  })
  return { close }
}
