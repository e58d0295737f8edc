/**
 * What a transfer is asked and answers, and what it needs of the host: the shapes shared by
 * the upload and download paths and the `Transfers` service facade.
 *
 * @since 0.2.0
 */
import type { Effect, Scope } from "effect"
import type { SFTPWrapper } from "ssh2"
import type { ChannelError, ChecksumMismatchError, ConnectFailure, LocalPathDeniedError, RemoteOutputTooLargeError, SftpError } from "../domain/errors.js"
import type { Collected, CollectOptions } from "../ssh/collect.js"
import type { RemoteChannel } from "../ssh/RemoteChannel.js"

export interface TransferRequest {
  readonly host?: string | undefined
  readonly localPath: string
  readonly remotePath: string
  /** Create missing parent directories (default true). */
  readonly mkdirs?: boolean | undefined
  /** Replace an existing target (default true). */
  readonly overwrite?: boolean | undefined
  /**
   * File mode for the target(s); default: the source's permission bits (0o777). Upload
   * applies an explicit mode as given (set-uid included); download always masks with 0o777.
   */
  readonly mode?: number | undefined
  /**
   * The MCP client's roots (local paths), when a stdio client declared them: they narrow the
   * default `local_roots` (never roots the operator named).
   */
  readonly clientRoots?: ReadonlyArray<string> | undefined
  /** Bytes done and total, at most every 250 ms. */
  readonly onProgress?: ((done: number, total: number) => Effect.Effect<void>) | undefined
}

export interface FileResult {
  /** Path relative to the transferred directory ("" for a single file). */
  readonly path: string
  readonly bytes: number
  readonly sha256Local: string
  readonly sha256Remote: string
  readonly mode: number
}

export interface TransferResult {
  readonly host: string
  readonly bytes: number
  readonly sha256Local: string | null
  readonly sha256Remote: string | null
  readonly verified: boolean
  readonly durationMs: number
  readonly files: ReadonlyArray<FileResult>
}

export type TransferError = ConnectFailure | ChannelError | SftpError | ChecksumMismatchError | RemoteOutputTooLargeError | LocalPathDeniedError

/**
 * Why a local file of the transfer (by real path) may not be read or written, or undefined
 * when it may (the `local_roots` rules, see src/files/localRoots.ts).
 */
export type LocalCheck = (real: string) => string | undefined

/** What to do about a LOCAL_PATH_DENIED. */
export const localRootsHint = "transfers read and write only under [server] local_roots (default: the home and the temp directory), " +
  "never in /proc, /sys, /dev, ~/.ssh or the server's own files; only the operator can change that (--local-root)"

/** The host a transfer talks to, as the `Transfers` service hands it over. */
export interface TransferHost {
  readonly alias: string
  /** Run a helper command of ours; its whole output, within the caps `options` gives. */
  readonly run: (command: string, options: CollectOptions) => Effect.Effect<Collected, ConnectFailure | ChannelError | RemoteOutputTooLargeError>
  /** The most a listing of the host's files may print (`max_listing_bytes`). */
  readonly listingCap: number
  /**
   * Start a command whose output the caller streams; its channel closes with the scope.
   * `window`: a larger receive window, for much output.
   */
  readonly exec: (command: string, options?: { readonly window?: number }) => Effect.Effect<RemoteChannel, ConnectFailure | ChannelError, Scope.Scope>
  /** An SFTP session, ended with the scope. */
  readonly session: Effect.Effect<SFTPWrapper, ConnectFailure | ChannelError, Scope.Scope>
  /**
   * The link's round trip (ms) as the last transfer over lanes to this host measured it
   * (undefined before the first): a transfer that knows it opens its lanes without waiting
   * for the hasher's open to measure it again.
   */
  readonly roundTrip: {
    readonly known: () => number | undefined
    readonly seen: (ms: number) => void
  }
}

/**
 * The mode a downloaded file gets: the one asked for, else the host's, never set-uid,
 * set-gid or sticky (whatever the host or the caller says).
 */
export const localMode = (request: TransferRequest, hostMode: number | undefined): number => (request.mode ?? hostMode ?? 0o600) & 0o777

/** What to do when a listing of the host's files passes `max_listing_bytes`. */
export const listingHint = "a tree this large needs a larger max_listing_bytes ([limits] or --max-listing-bytes); " +
  "otherwise check the remote account's shell start-up files (~/.bashrc) and what its PATH finds for find"

export const summary = (alias: string, durationMs: number, files: ReadonlyArray<FileResult>, single: boolean): TransferResult => ({
  host: alias,
  bytes: files.reduce((n, f) => n + f.bytes, 0),
  sha256Local: single ? files[0]!.sha256Local : null,
  sha256Remote: single ? files[0]!.sha256Remote : null,
  verified: files.every((f) => f.sha256Local === f.sha256Remote),
  durationMs,
  files
})
