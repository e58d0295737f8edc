/**
 * File transfer over SFTP, atomic and verified: a file goes to a temporary name in the
 * target's directory, its sha256 is computed on both ends (remotely by the host's own
 * tool), and only a match is renamed over the target — with OpenSSH's posix-rename where
 * the server has it, so an existing target is replaced in one step. On any failure,
 * mismatch or interruption the temporary file is removed and the target is untouched.
 *
 * Trust (SPEC §8): a directory's listing comes NUL-separated from the host and is refused
 * whole if any entry is not a plain relative path; every local target is resolved under
 * `local_path` without following symlinks out of it; only permission bits (0o777) of a
 * remote file are copied (no set-uid, set-gid or sticky file is ever made locally); local
 * temporary files are 0600 in a fresh 0700 directory.
 *
 * @since 0.1.0
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import { privateTemp } from "../files/privateFiles.js"
import { isInside, LocalPathError, listingCommand, parseListing, resolveLocalDir, type TreeEntry, unsafeRelative } from "../files/treePaths.js"
import { collect } from "../ssh/collect.js"
import { shellQuote } from "../ssh/shell.js"
import type { ConnectFailure } from "../domain/errors.js"
import { Connections } from "./Connections.js"
import { type ChannelError, ChecksumMismatchError, SftpError } from "../domain/errors.js"
import { HostRegistry } from "./HostRegistry.js"

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

type TransferError = ConnectFailure | ChannelError | SftpError | ChecksumMismatchError

const sftpFailure = (what: string, e: unknown) => {
  const err = e as { code?: string | number; message?: string }
  const reason = err?.code === 2 || err?.code === "ENOENT"
    ? "no such file or directory"
    : err?.code === 3 || err?.code === "EACCES"
    ? "permission denied"
    : err?.code === "ENOSPC" || /space|quota/i.test(err?.message ?? "")
    ? "no space left"
    : err?.message ?? String(e)
  return new SftpError({ message: `${what}: ${reason}` })
}

const call = <A>(what: string, f: (cb: (err: Error | null | undefined, a: A) => void) => void) =>
  Effect.callback<A, SftpError>((resume) =>
    f((err, a) => (err !== undefined && err !== null ? resume(Effect.fail(sftpFailure(what, err))) : resume(Effect.succeed(a)))))

/** Like `call`, but fails when the SFTP session closes first (ssh2 leaves a transfer pending then). */
const transfer = (sftp: SFTPWrapper, what: string, f: (cb: (err: Error | null | undefined) => void) => void) =>
  Effect.callback<void, SftpError>((resume) => {
    const onClose = () => resume(Effect.fail(new SftpError({ message: `${what}: the connection closed during the transfer` })))
    sftp.once("close", onClose)
    f((err) => {
      sftp.removeListener("close", onClose)
      if (err !== undefined && err !== null) resume(Effect.fail(sftpFailure(what, err)))
      else resume(Effect.void)
    })
  })

const tempName = (target: string) =>
  path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target).slice(0, 100)}.mcpssh-${randomBytes(4).toString("hex")}.tmp`)

const sha256File = (file: string) =>
  Effect.callback<string, SftpError>((resume) => {
    const hash = createHash("sha256")
    fs.createReadStream(file)
      .on("data", (d) => hash.update(d))
      .on("error", (e) => resume(Effect.fail(sftpFailure(`reading ${file}`, e))))
      .on("end", () => resume(Effect.succeed(hash.digest("hex"))))
  })

const CONCURRENCY = 64
const CHUNK = 32 * 1024

export class Sftp extends Context.Service<Sftp, {
  upload(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
  download(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
}>()("mcp-ssh-live/Sftp") {
  static readonly layer = Layer.effect(Sftp)(Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry

    /** Run a small command of ours on the host; its stdout. */
    const remote = (alias: string, command: string) =>
      Effect.flatMap(connections.exec(alias, command), (ch) => collect(ch))

    const remoteSha256 = (alias: string, file: string) =>
      Effect.gen(function*() {
        const q = shellQuote(file)
        // On stdin: a name with a newline or backslash would be escaped in the output, one starting with "-" read as an option.
        const r = yield* remote(alias, `sha256sum < ${q} 2>/dev/null || shasum -a 256 < ${q} 2>/dev/null || openssl dgst -sha256 -r < ${q}`)
        const hex = /^([0-9a-f]{64})\b/.exec(r.stdout.trim())?.[1]
        if (hex === undefined) return yield* new SftpError({ message: `cannot compute sha256 of ${file} on ${alias}: ${r.stderr.trim() || "no sha256sum, shasum or openssl"}` })
        return hex
      })

    const session = (alias: string) =>
      Effect.acquireRelease(connections.sftp(alias), (sftp) => Effect.sync(() => sftp.end()))

    /** Remove a temporary file even after the connection died (a new one is opened for it). */
    const removeRemote = (alias: string, file: string) =>
      remote(alias, `rm -f -- ${shellQuote(file)}`).pipe(Effect.timeout("30 seconds"), Effect.ignore)

    const progress = (request: TransferRequest, total: number) => {
      let last = 0
      let done = 0
      return {
        add: (n: number) => {
          done += n
          const now = Date.now()
          if (request.onProgress !== undefined && (now - last >= 250 || done === total)) {
            last = now
            Effect.runFork(request.onProgress(done, total))
          }
        },
        get done() {
          return done
        }
      }
    }

    const uploadFile = (alias: string, sftp: SFTPWrapper, local: string, target: string, rel: string, request: TransferRequest, tick: (n: number) => void) =>
      Effect.gen(function*() {
        const stat = yield* Effect.try({ try: () => fs.statSync(local), catch: (e) => sftpFailure(`local_path ${local}`, e) })
        const existing = yield* call<Stats | undefined>(`remote_path ${target}`, (cb) => sftp.stat(target, (err, st) => cb(null, err ? undefined : st)))
        if (existing?.isDirectory() === true) return yield* new SftpError({ message: `remote_path ${target} is a directory` })
        if (existing !== undefined && request.overwrite === false) {
          return yield* new SftpError({ message: `remote_path ${target} exists and overwrite is false` })
        }
        const mode = request.mode ?? (stat.mode & 0o777)
        const temp = tempName(target)
        return yield* Effect.gen(function*() {
          let sent = 0
          const [sha256Local] = yield* Effect.all([
            sha256File(local),
            transfer(sftp, `uploading ${local} to ${target}`, (cb) =>
              sftp.fastPut(local, temp, {
                concurrency: CONCURRENCY,
                chunkSize: CHUNK,
                mode: 0o600,
                step: (total) => {
                  tick(total - sent)
                  sent = total
                }
              }, (err) => cb(err)))
          ], { concurrency: 2 })
          const sha256Remote = yield* remoteSha256(alias, temp)
          if (sha256Remote !== sha256Local) {
            return yield* new ChecksumMismatchError({ message: `${target}: sha256 differs after upload (local ${sha256Local}, remote ${sha256Remote}); target left unchanged` })
          }
          yield* call<void>(`chmod ${temp}`, (cb) => sftp.chmod(temp, mode, (err) => cb(err, undefined)))
          yield* rename(sftp, temp, target, existing !== undefined)
          return { path: rel, bytes: stat.size, sha256Local, sha256Remote, mode } satisfies FileResult
        }).pipe(Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : removeRemote(alias, temp)))
      })

    /** posix-rename replaces the target atomically; plain SFTP rename refuses an existing target. */
    const rename = (sftp: SFTPWrapper, from: string, to: string, exists: boolean) =>
      call<void>(`renaming to ${to}`, (cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined))).pipe(
        Effect.catch(() =>
          Effect.andThen(
            exists ? call<void>(`replacing ${to}`, (cb) => sftp.unlink(to, (err) => cb(err, undefined))) : Effect.void,
            call<void>(`renaming to ${to}`, (cb) => sftp.rename(from, to, (err) => cb(err, undefined)))
          ))
      )

    /** Regular files only: symlinks (to files or directories) and special files are not followed or sent. */
    const localTree = (root: string): Array<TreeEntry> => {
      const out: Array<TreeEntry> = []
      const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
          const r = rel === "" ? e.name : `${rel}/${e.name}`
          if (e.isDirectory()) walk(r)
          else if (e.isFile()) out.push({ rel: r, size: fs.statSync(path.join(root, r)).size })
        }
      }
      walk("")
      return out
    }

    const summary = (alias: string, started: number, files: ReadonlyArray<FileResult>, single: boolean): TransferResult => ({
      host: alias,
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      sha256Local: single ? files[0]!.sha256Local : null,
      sha256Remote: single ? files[0]!.sha256Remote : null,
      verified: files.every((f) => f.sha256Local === f.sha256Remote),
      durationMs: Date.now() - started,
      files
    })

    const upload = Effect.fn("Sftp.upload")(function*(request: TransferRequest) {
      const started = Date.now()
      const host = yield* registry.resolve(request.host)
      const stat = yield* Effect.try({ try: () => fs.statSync(request.localPath), catch: (e) => sftpFailure(`local_path ${request.localPath}`, e) })
      const single = !stat.isDirectory()
      const entries = single ? [{ rel: "", size: stat.size }] : localTree(request.localPath)
      const total = entries.reduce((n, e) => n + e.size, 0)
      const p = progress(request, total)
      return yield* Effect.scoped(Effect.gen(function*() {
        const sftp = yield* session(host.alias)
        const dirs = new Set(entries.map((e) => path.posix.dirname(single ? request.remotePath : path.posix.join(request.remotePath, e.rel))))
        if (request.mkdirs !== false) {
          const r = yield* remote(host.alias, `mkdir -p -- ${[...dirs].map(shellQuote).join(" ")}`)
          if (r.code !== 0) return yield* new SftpError({ message: `cannot create ${[...dirs].join(", ")} on ${host.alias}: ${r.stderr.trim()}` })
        }
        const files: Array<FileResult> = []
        for (const e of entries) {
          const why = single ? undefined : unsafeRelative(e.rel)
          if (why !== undefined) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} is ${why}` })
          const local = single ? request.localPath : path.join(request.localPath, e.rel)
          const target = single ? request.remotePath : path.posix.join(request.remotePath, e.rel)
          files.push(yield* uploadFile(host.alias, sftp, local, target, e.rel, request, p.add))
        }
        return summary(host.alias, started, files, single)
      }))
    })

    const downloadFile = (alias: string, sftp: SFTPWrapper, source: string, target: string, rel: string, request: TransferRequest, tick: (n: number) => void) =>
      Effect.gen(function*() {
        const st = yield* call<Stats>(`remote_path ${source}`, (cb) => sftp.stat(source, cb))
        const exists = fs.existsSync(target)
        if (exists && fs.statSync(target).isDirectory()) return yield* new SftpError({ message: `local_path ${target} is a directory` })
        if (exists && request.overwrite === false) return yield* new SftpError({ message: `local_path ${target} exists and overwrite is false` })
        // Whatever the host or the caller says, no set-uid, set-gid or sticky file is made here.
        const mode = (request.mode ?? st.mode) & 0o777
        const temp = yield* Effect.try({ try: () => privateTemp(target), catch: (e) => sftpFailure(`local_path ${target}`, e) })
        return yield* Effect.gen(function*() {
          let got = 0
          yield* transfer(sftp, `downloading ${source}`, (cb) =>
            sftp.fastGet(source, temp.file, {
              concurrency: CONCURRENCY,
              chunkSize: CHUNK,
              step: (total) => {
                tick(total - got)
                got = total
              }
            }, (err) => cb(err)))
          const [sha256Local, sha256Remote] = yield* Effect.all([sha256File(temp.file), remoteSha256(alias, source)], { concurrency: 2 })
          if (sha256Remote !== sha256Local) {
            return yield* new ChecksumMismatchError({ message: `${source}: sha256 differs after download (remote ${sha256Remote}, local ${sha256Local}); target left unchanged` })
          }
          yield* Effect.try({
            try: () => {
              fs.chmodSync(temp.file, mode)
              fs.renameSync(temp.file, target)
            },
            catch: (e) => sftpFailure(`local_path ${target}`, e)
          })
          return { path: rel, bytes: st.size, sha256Local, sha256Remote, mode } satisfies FileResult
        }).pipe(Effect.ensuring(Effect.sync(() => removeLocal(temp.dir))))
      })

    const removeLocal = (dir: string) => {
      try {
        fs.rmSync(dir, { recursive: true, force: true })
      } catch {
        // Nothing more to do: it is a hidden, private directory.
      }
    }

    /** `local_path` of a directory download, made if missing (with mkdirs), as a real path. */
    const localRoot = (request: TransferRequest) =>
      Effect.try({
        try: () => {
          if (request.mkdirs !== false && !fs.existsSync(request.localPath)) fs.mkdirSync(request.localPath, { recursive: true })
          const real = fs.realpathSync(request.localPath)
          if (!fs.statSync(real).isDirectory()) throw new LocalPathError("not a directory")
          return real
        },
        catch: (e) => e instanceof LocalPathError ? new SftpError({ message: `local_path ${request.localPath} is ${e.message}` }) : sftpFailure(`local_path ${request.localPath}`, e)
      })

    /**
     * Resolve (and with `create` make) the local directories of `entries` under `root`; the last
     * one's real path, or undefined when it does not exist yet.
     */
    const localDirs = (request: TransferRequest, root: string, entries: ReadonlyArray<TreeEntry>, create: boolean) =>
      Effect.try({
        try: () => {
          let last: string | undefined
          const seen = new Set<string>()
          for (const e of entries) {
            const dirRel = e.rel.includes("/") ? e.rel.slice(0, e.rel.lastIndexOf("/")) : ""
            if (seen.has(dirRel)) continue
            seen.add(dirRel)
            last = resolveLocalDir(root, dirRel, create)
            if (last !== undefined && !isInside(root, last)) throw new LocalPathError(`${dirRel} leads outside local_path`)
          }
          return last
        },
        catch: (e) =>
          e instanceof LocalPathError
            ? new SftpError({ message: `local_path ${request.localPath}: ${e.message}; nothing was written there`, hint: "remove or replace that symlink, or download to another local_path" })
            : sftpFailure(`local_path ${request.localPath}`, e)
      })

    const download = Effect.fn("Sftp.download")(function*(request: TransferRequest) {
      const started = Date.now()
      const host = yield* registry.resolve(request.host)
      return yield* Effect.scoped(Effect.gen(function*() {
        const sftp = yield* session(host.alias)
        const st = yield* call<Stats>(`remote_path ${request.remotePath}`, (cb) => sftp.stat(request.remotePath, cb))
        const single = !st.isDirectory()
        if (single) {
          if (request.mkdirs !== false) {
            yield* Effect.try({
              try: () => fs.mkdirSync(path.dirname(request.localPath), { recursive: true }),
              catch: (e) => sftpFailure(`local_path ${request.localPath}`, e)
            })
          }
          const p = progress(request, st.size)
          const file = yield* downloadFile(host.alias, sftp, request.remotePath, request.localPath, "", request, p.add)
          return summary(host.alias, started, [file], true)
        }
        const r = yield* remote(host.alias, `cd -- ${shellQuote(request.remotePath)} && ${listingCommand}`)
        if (r.code !== 0) return yield* new SftpError({ message: `cannot list ${request.remotePath} on ${host.alias}: ${r.stderr.trim()}` })
        const entries = parseListing(r.stdout)
        if (typeof entries === "string") {
          return yield* new SftpError({
            message: `remote_path ${request.remotePath}: ${entries}; nothing was downloaded`,
            hint: "the host's listing is not what GNU find prints; a path outside the directory is never written"
          })
        }
        const root = yield* localRoot(request)
        // Refuse before writing anything when an existing local directory leads outside local_path.
        yield* localDirs(request, root, entries, false)
        const p = progress(request, entries.reduce((n, e) => n + e.size, 0))
        const files: Array<FileResult> = []
        for (const e of entries) {
          const dir = yield* localDirs(request, root, [e], request.mkdirs !== false)
          if (dir === undefined) {
            return yield* new SftpError({ message: `local_path ${path.join(root, path.posix.dirname(e.rel))}: no such file or directory (mkdirs is false)` })
          }
          const target = path.join(dir, path.posix.basename(e.rel))
          if (!isInside(root, target)) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} resolves outside it` })
          files.push(yield* downloadFile(host.alias, sftp, path.posix.join(request.remotePath, e.rel), target, e.rel, request, p.add))
        }
        return summary(host.alias, started, files, false)
      }))
    })

    return Sftp.of({ upload, download })
  }))
}
