/**
 * SFTP requests as Effects, and what a failed one (or a local file-system call) says to
 * the agent: the reason in words (no such file, permission denied, no space left).
 *
 * @since 0.2.0
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { Effect } from "effect"
import { PlatformError } from "effect/PlatformError"
import type { SFTPWrapper } from "ssh2"
import { RemoteOutputTooLargeError, SftpError } from "../domain/errors.js"
import { TransferAborted } from "./pipeline.js"

/** An SFTP status (2 no such file, 3 permission denied), a Node errno error or a PlatformError, in words. */
export const sftpFailure = (what: string, e: unknown): SftpError => {
  if (e instanceof TransferAborted) return new SftpError({ message: `${what}: ${e.message}` })
  // A local file-system failure: its Node error says more than the wrapper.
  const cause = e instanceof PlatformError && e.reason.cause !== undefined ? e.reason.cause : e
  const err = cause as { code?: string | number; message?: string }
  const reason = err?.code === 2 || err?.code === "ENOENT"
    ? "no such file or directory"
    : err?.code === 3 || err?.code === "EACCES"
    ? "permission denied"
    : err?.code === "ENOSPC" || /space|quota/i.test(err?.message ?? "")
    ? "no space left"
    : err?.message ?? String(cause)
  return new SftpError({ message: `${what}: ${reason}` })
}

/** A streamed transfer's failure: a cap the host's output passed stays itself, anything else is `sftpFailure`. */
export const streamFailure = (what: string, e: unknown): SftpError | RemoteOutputTooLargeError =>
  e instanceof RemoteOutputTooLargeError ? e : sftpFailure(what, e)

export const call = <A>(what: string, f: (cb: (err: Error | null | undefined, a: A) => void) => void) =>
  Effect.callback<A, SftpError>((resume) =>
    f((err, a) => (err !== undefined && err !== null ? resume(Effect.fail(sftpFailure(what, err))) : resume(Effect.succeed(a)))))

/** A temporary name next to `target` on the host. */
export const tempName = (target: string) =>
  path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target).slice(0, 100)}.mcpssh-${randomBytes(4).toString("hex")}.tmp`)

/** `root`/`rel`, or `root` itself for rel "" (a single file). */
export const join = (root: string, rel: string) => rel === "" ? root : path.posix.join(root, rel)

/** The directory part of a "/"-separated relative path ("" at the root). */
export const dirOf = (rel: string) => rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : ""

/** posix-rename replaces the target atomically; plain SFTP rename refuses an existing target. */
export const rename = (sftp: SFTPWrapper, from: string, to: string, exists: boolean) =>
  call<void>(`renaming to ${to}`, (cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined))).pipe(
    Effect.catch(() =>
      Effect.andThen(
        exists ? call<void>(`replacing ${to}`, (cb) => sftp.unlink(to, (err) => cb(err, undefined))) : Effect.void,
        call<void>(`renaming to ${to}`, (cb) => sftp.rename(from, to, (err) => cb(err, undefined)))
      ))
  )
