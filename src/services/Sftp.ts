/**
 * File transfer over SFTP, atomic and verified: a file goes to a temporary name in the
 * target's directory through pipelined SFTP requests (src/sftp/pipeline.ts), its sha256 is
 * computed here on the bytes as they pass and on the host by its own tool (one command for
 * a whole tree, at the same time as a download), and only a match is renamed over the
 * target — with OpenSSH's posix-rename where the server has it, so an existing target is
 * replaced in one step. A tree is all or nothing: nothing is renamed before every file is
 * verified. On any failure, mismatch or interruption the temporary files are removed and
 * the targets are untouched.
 *
 * Trust (SPEC §8): a directory's listing comes NUL-separated from the host and is refused
 * whole if any entry is not a plain relative path; every local target is resolved under
 * `local_path` without following symlinks out of it; only permission bits (0o777) of a
 * remote file are copied (no set-uid, set-gid or sticky file is ever made locally); local
 * temporary files are 0600 in a fresh 0700 directory.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import { privateDir } from "../files/privateFiles.js"
import { isInside, LocalPathError, listingCommand, parseListing, resolveLocalDir, type TreeEntry, unsafeRelative } from "../files/treePaths.js"
import { getFile, putFile, TransferAborted } from "../sftp/pipeline.js"
import { existingCommand, manyFilesCommand, manyFilesInput, oneFileCommand, parseExisting, parseMany, parseOne } from "../sftp/remoteHash.js"
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
  if (e instanceof TransferAborted) return new SftpError({ message: `${what}: ${e.message}` })
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

const tempName = (target: string) =>
  path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target).slice(0, 100)}.mcpssh-${randomBytes(4).toString("hex")}.tmp`)

/** Files copied at once in a tree (each with its own requests in flight). */
const FILES_IN_FLIGHT = 32

/** Whether `rel` lies in the tree: "" (the single file) or a checked relative path. */
const join = (root: string, rel: string) => rel === "" ? root : path.posix.join(root, rel)

export class Sftp extends Context.Service<Sftp, {
  upload(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
  download(request: TransferRequest): Effect.Effect<TransferResult, TransferError>
}>()("mcp-ssh-live/Sftp") {
  static readonly layer = Layer.effect(Sftp)(Effect.gen(function*() {
    const connections = yield* Connections
    const registry = yield* HostRegistry

    /** Run a small command of ours on the host; its stdout. */
    const remote = (alias: string, command: string, stdin?: string) =>
      Effect.flatMap(connections.exec(alias, command), (ch) => collect(ch, stdin))

    const remoteSha256 = (alias: string, file: string) =>
      Effect.gen(function*() {
        const r = yield* remote(alias, oneFileCommand(file))
        const hex = parseOne(r.stdout)
        if (hex === undefined) return yield* new SftpError({ message: `cannot compute sha256 of ${file} on ${alias}: ${r.stderr.trim() || "no openssl, sha256sum or shasum"}` })
        return hex
      })

    /**
     * The host's sha256 of `dir`/`rel` for each of `rels`: one command for all, then each file
     * its answer did not cover hashed alone (a single file goes straight to the latter).
     */
    const remoteSha256s = (alias: string, dir: string, rels: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        let found = new Map<string, string>()
        if (rels.length > 1) {
          const r = yield* remote(alias, manyFilesCommand(dir), manyFilesInput(rels))
          found = parseMany(r.stdout, rels)
        }
        const missing = rels.filter((rel) => !found.has(rel))
        const alone = yield* Effect.forEach(missing, (rel) => remoteSha256(alias, join(dir, rel)), { concurrency: 4 })
        missing.forEach((rel, i) => found.set(rel, alone[i]!))
        return found
      })

    const session = (alias: string) =>
      Effect.acquireRelease(
        // Every file in flight watches the session's close event.
        Effect.tap(connections.sftp(alias), (sftp) => Effect.sync(() => sftp.setMaxListeners(FILES_IN_FLIGHT + 10))),
        (sftp) => Effect.sync(() => sftp.end())
      )

    /** Remove temporary files even after the connection died (a new one is opened for it). */
    const removeRemote = (alias: string, files: ReadonlyArray<string>) =>
      files.length === 0 ? Effect.void : remote(alias, "xargs -0 rm -f --", files.map((f) => `${f}\0`).join("")).pipe(
        Effect.timeout("30 seconds"),
        Effect.ignore
      )

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

    /**
     * Upload `entries` (rel "" for a single file): every file goes to a temporary name next to
     * its target (created exclusively, 0600) through pipelined SFTP writes, hashed here as it
     * is read; then the host hashes all temporary files in one command; only when every
     * digest matches are they given their mode and renamed into place. On any failure or
     * interruption no target is touched and every temporary file is removed.
     */
    const uploadEntries = (alias: string, sftp: SFTPWrapper, request: TransferRequest, entries: ReadonlyArray<TreeEntry>, tick: (n: number) => void) =>
      Effect.gen(function*() {
        const root = request.remotePath
        const temps: Array<string> = []
        const tree = !(entries.length === 1 && entries[0]!.rel === "")
        // A tree asks once what is already in its directories instead of one stat per file.
        let existingTypes: Map<string, string> | undefined
        if (tree) {
          const dirs = new Set(entries.map((e) => e.rel.includes("/") ? `./${e.rel.slice(0, e.rel.lastIndexOf("/"))}` : "."))
          const r = yield* remote(alias, existingCommand(root), [...dirs].map((d) => `${d}\0`).join(""))
          if (r.code === 0) existingTypes = parseExisting(r.stdout)
        }
        const existingOf = (target: string, rel: string) => {
          const type = existingTypes?.get(rel)
          // Unknown (no listing) or a symlink: ask the server, which follows it as the rename's target check did.
          if (existingTypes === undefined || type === "l") {
            return call<Stats | undefined>(`remote_path ${target}`, (cb) => sftp.stat(target, (err, st) => cb(null, err ? undefined : st))).pipe(
              Effect.map((st) => st === undefined ? undefined : { dir: st.isDirectory() })
            )
          }
          return Effect.succeed(type === undefined ? undefined : { dir: type === "d" })
        }
        return yield* Effect.gen(function*() {
          const sent = yield* Effect.forEach(entries, (e) =>
            Effect.gen(function*() {
              const local = join(request.localPath, e.rel)
              const target = join(root, e.rel)
              const stat = yield* Effect.try({ try: () => fs.statSync(local), catch: (err) => sftpFailure(`local_path ${local}`, err) })
              const existing = yield* existingOf(target, e.rel)
              if (existing?.dir === true) return yield* new SftpError({ message: `remote_path ${target} is a directory` })
              if (existing !== undefined && request.overwrite === false) {
                return yield* new SftpError({ message: `remote_path ${target} exists and overwrite is false` })
              }
              const temp = tempName(target)
              temps.push(temp)
              const copied = yield* Effect.tryPromise({
                try: (signal) => putFile(sftp, local, temp, { signal, onBytes: tick }),
                catch: (err) => sftpFailure(`uploading ${local} to ${target}`, err)
              })
              return { e, target, temp, copied, exists: existing !== undefined, mode: request.mode ?? (stat.mode & 0o777) }
            }), { concurrency: FILES_IN_FLIGHT })
          // The temporary files relative to where the host hashes them: the tree's root, or a single file's directory.
          const base = tree ? root : path.posix.dirname(sent[0]!.temp)
          const remoteRel = (temp: string) => path.posix.relative(base, temp)
          const sums = yield* remoteSha256s(alias, base, sent.map((f) => remoteRel(f.temp)))
          const bad = sent.find((f) => sums.get(remoteRel(f.temp)) !== f.copied.sha256)
          if (bad !== undefined) {
            return yield* new ChecksumMismatchError({
              message: `${bad.target}: sha256 differs after upload (local ${bad.copied.sha256}, remote ${sums.get(remoteRel(bad.temp))}); ${entries.length > 1 ? "no file was replaced" : "target left unchanged"}`
            })
          }
          return yield* Effect.forEach(sent, (f) =>
            Effect.gen(function*() {
              yield* call<void>(`chmod ${f.temp}`, (cb) => sftp.chmod(f.temp, f.mode, (err) => cb(err, undefined)))
              yield* rename(sftp, f.temp, f.target, f.exists)
              return { path: f.e.rel, bytes: f.copied.bytes, sha256Local: f.copied.sha256, sha256Remote: f.copied.sha256, mode: f.mode } satisfies FileResult
            }), { concurrency: FILES_IN_FLIGHT })
        }).pipe(Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : removeRemote(alias, temps)))
      })

    const upload = Effect.fn("Sftp.upload")(function*(request: TransferRequest) {
      const started = Date.now()
      const host = yield* registry.resolve(request.host)
      const stat = yield* Effect.try({ try: () => fs.statSync(request.localPath), catch: (e) => sftpFailure(`local_path ${request.localPath}`, e) })
      const single = !stat.isDirectory()
      const entries = single ? [{ rel: "", size: stat.size }] : localTree(request.localPath)
      for (const e of single ? [] : entries) {
        const why = unsafeRelative(e.rel)
        if (why !== undefined) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} is ${why}` })
      }
      const total = entries.reduce((n, e) => n + e.size, 0)
      const p = progress(request, total)
      return yield* Effect.scoped(Effect.gen(function*() {
        const sftp = yield* session(host.alias)
        const dirs = new Set(entries.map((e) => path.posix.dirname(join(request.remotePath, e.rel))))
        if (request.mkdirs !== false && dirs.size > 0) {
          const r = yield* remote(host.alias, "xargs -0 mkdir -p --", [...dirs].map((d) => `${d}\0`).join(""))
          if (r.code !== 0) return yield* new SftpError({ message: `cannot create ${[...dirs].join(", ")} on ${host.alias}: ${r.stderr.trim()}` })
        }
        const files = yield* uploadEntries(host.alias, sftp, request, entries, p.add)
        return summary(host.alias, started, files, single)
      }))
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
     * Resolve (and with `create` make) the local directories of `entries` under `root`: each
     * directory's real path by its "/"-separated relative path, undefined where it does not
     * exist yet.
     */
    const localDirs = (request: TransferRequest, root: string, entries: ReadonlyArray<TreeEntry>, create: boolean) =>
      Effect.try({
        try: () => {
          const dirs = new Map<string, string | undefined>()
          for (const e of entries) {
            const dirRel = e.rel.includes("/") ? e.rel.slice(0, e.rel.lastIndexOf("/")) : ""
            if (dirs.has(dirRel)) continue
            const real = resolveLocalDir(root, dirRel, create)
            if (real !== undefined && !isInside(root, real)) throw new LocalPathError(`${dirRel} leads outside local_path`)
            dirs.set(dirRel, real)
          }
          return dirs
        },
        catch: (e) =>
          e instanceof LocalPathError
            ? new SftpError({ message: `local_path ${request.localPath}: ${e.message}; nothing was written there`, hint: "remove or replace that symlink, or download to another local_path" })
            : sftpFailure(`local_path ${request.localPath}`, e)
      })

    interface LocalTarget {
      readonly rel: string
      readonly source: string
      readonly target: string
    }

    /**
     * Download `targets`: each file is read through pipelined SFTP requests into a file
     * created exclusively (0600) in a private 0700 directory next to its target, hashed as it
     * arrives, while the host hashes all sources in one command; only when every digest
     * matches are the files given their mode (masked to 0o777) and renamed into place. The
     * private directories are removed whatever happens.
     */
    const downloadEntries = (alias: string, sftp: SFTPWrapper, request: TransferRequest, remoteRoot: string, targets: ReadonlyArray<LocalTarget>, tick: (n: number) => void) =>
      Effect.gen(function*() {
        const privateDirs = new Map<string, string>()
        return yield* Effect.gen(function*() {
          for (const t of targets) {
            const exists = fs.existsSync(t.target)
            if (exists && fs.statSync(t.target).isDirectory()) return yield* new SftpError({ message: `local_path ${t.target} is a directory` })
            if (exists && request.overwrite === false) return yield* new SftpError({ message: `local_path ${t.target} exists and overwrite is false` })
          }
          const tempFor = (t: LocalTarget, i: number) => {
            const dir = path.dirname(t.target)
            let priv = privateDirs.get(dir)
            if (priv === undefined) {
              priv = privateDir(t.target)
              privateDirs.set(dir, priv)
            }
            return path.join(priv, targets.length === 1 && path.basename(t.target).length <= 200 ? path.basename(t.target) : String(i))
          }
          const [sums, got] = yield* Effect.all([
            remoteSha256s(alias, remoteRoot, targets.map((t) => t.rel)),
            Effect.forEach(targets, (t, i) =>
              Effect.gen(function*() {
                const temp = yield* Effect.try({ try: () => tempFor(t, i), catch: (e) => sftpFailure(`local_path ${t.target}`, e) })
                const copied = yield* Effect.tryPromise({
                  try: (signal) => getFile(sftp, t.source, temp, { signal, onBytes: tick }),
                  catch: (e) => sftpFailure(`downloading ${t.source}`, e)
                })
                return { t, temp, copied }
              }), { concurrency: FILES_IN_FLIGHT })
          ], { concurrency: 2 })
          const bad = got.find((f) => sums.get(f.t.rel) !== f.copied.sha256)
          if (bad !== undefined) {
            return yield* new ChecksumMismatchError({
              message: `${bad.t.source}: sha256 differs after download (remote ${sums.get(bad.t.rel)}, local ${bad.copied.sha256}); ${targets.length > 1 ? "no file was replaced" : "target left unchanged"}`
            })
          }
          return yield* Effect.forEach(got, (f) =>
            Effect.try({
              try: () => {
                // Whatever the host or the caller says, no set-uid, set-gid or sticky file is made here.
                const mode = (request.mode ?? f.copied.mode ?? 0o600) & 0o777
                fs.chmodSync(f.temp, mode)
                fs.renameSync(f.temp, f.t.target)
                return { path: f.t.rel, bytes: f.copied.bytes, sha256Local: f.copied.sha256, sha256Remote: f.copied.sha256, mode } satisfies FileResult
              },
              catch: (e) => sftpFailure(`local_path ${f.t.target}`, e)
            }))
        }).pipe(Effect.ensuring(Effect.sync(() => privateDirs.forEach(removeLocal))))
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
          const files = yield* downloadEntries(host.alias, sftp, request, request.remotePath, [{ rel: "", source: request.remotePath, target: request.localPath }], p.add)
          return summary(host.alias, started, files, true)
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
        const dirs = yield* localDirs(request, root, entries, request.mkdirs !== false)
        const targets: Array<LocalTarget> = []
        for (const e of entries) {
          const dirRel = e.rel.includes("/") ? e.rel.slice(0, e.rel.lastIndexOf("/")) : ""
          const dir = dirs.get(dirRel)
          if (dir === undefined) {
            return yield* new SftpError({ message: `local_path ${path.join(root, dirRel)}: no such file or directory (mkdirs is false)` })
          }
          const target = path.join(dir, path.posix.basename(e.rel))
          if (!isInside(root, target)) return yield* new SftpError({ message: `local_path ${request.localPath}: ${JSON.stringify(e.rel)} resolves outside it` })
          targets.push({ rel: e.rel, source: path.posix.join(request.remotePath, e.rel), target })
        }
        const p = progress(request, entries.reduce((n, e) => n + e.size, 0))
        const files = yield* downloadEntries(host.alias, sftp, request, request.remotePath, targets, p.add)
        return summary(host.alias, started, files, false)
      }))
    })

    return Sftp.of({ upload, download })
  }))
}
