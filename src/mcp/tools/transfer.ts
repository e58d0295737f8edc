/**
 * `ssh_upload` and `ssh_download`: the same input and result shape, mirror images.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Effect, Schema } from "effect"
import { LocalPathDeniedError } from "../../domain/errors.js"
import { Transfers, type TransferResult } from "../../services/Transfers.js"
import { Name, optionalHost, snakeKeys } from "./fields.js"
import { enforcePolicy } from "./policyGate.js"
import * as Tool from "./Tool.js"

const Mode = Schema.String.annotate({ description: "Octal, e.g. \"0644\". Default: the source's; downloads never set set-uid/set-gid." })
  .check(Schema.isPattern(/^0?[0-7]{3,4}$/))

/** A `TransferRequest`, as the agent sends it (snake_case); `mode` in octal, `detail` for the result. */
const Input = snakeKeys(Schema.Struct({
  localPath: Name(4096, "Path on this server's machine, under its local_roots."),
  remotePath: Name(4096, "Path on the host (relative: from home)."),
  host: optionalHost,
  mkdirs: Schema.optionalKey(Schema.Boolean.annotate({ description: "Create missing parents. Default true." })),
  overwrite: Schema.optionalKey(Schema.Boolean.annotate({ description: "Replace an existing target. Default true." })),
  mode: Schema.optionalKey(Mode),
  detail: Schema.optionalKey(Schema.Boolean.annotate({ description: "List a directory's files." }))
}))

/** A `FileResult` as the agent reads it (snake_case), its mode in octal. */
const FileOut = snakeKeys(Schema.Struct({
  path: Schema.String,
  bytes: Schema.Int,
  sha256Local: Schema.String,
  sha256Remote: Schema.String,
  mode: Schema.String
}))

/** A `TransferResult` as the agent reads it. */
const Output = snakeKeys(Schema.Struct({
  host: Schema.String,
  bytes: Schema.Int,
  filesCount: Schema.Int,
  sha256Local: Schema.NullOr(Schema.String),
  sha256Remote: Schema.NullOr(Schema.String),
  verified: Schema.Boolean,
  durationMs: Schema.Int,
  files: Schema.Array(FileOut)
}))

/**
 * One digest over a tree: the sha256 of its `sha256sum` listing, a line `<sha256>  <path>\n`
 * per file sorted by path (bytes), paths relative to the directory.
 */
export const treeDigest = (files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>): string => {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
  const hash = createHash("sha256")
  for (const f of sorted) hash.update(`${f.sha256}  ${f.path}\n`)
  return hash.digest("hex")
}

/**
 * A single file's digests and its one entry in `files`, or a directory's counts, bytes and
 * one digest per side over its tree (its files one by one only with `detail`, else the ones
 * whose digests differ: none once a transfer succeeded, since a mismatch fails it whole).
 */
const toOutput = (r: TransferResult, detail: boolean): typeof Output.Type => {
  const single = r.sha256Local !== null
  return {
    ...r,
    filesCount: r.files.length,
    sha256Local: single ? r.sha256Local : treeDigest(r.files.map((f) => ({ path: f.path, sha256: f.sha256Local }))),
    sha256Remote: single ? r.sha256Remote : treeDigest(r.files.map((f) => ({ path: f.path, sha256: f.sha256Remote }))),
    files: r.files.filter((f) => single || detail || f.sha256Local !== f.sha256Remote).map((f) => ({ ...f, mode: `0${f.mode.toString(8)}` }))
  }
}

/**
 * The client's roots (stdio only), which narrow the default local_roots. While a 2026-07-28
 * call asks for them, nothing is done: the call is answered by the request and run again.
 */
const clientRoots = (ctx: Tool.ToolContext) =>
  Effect.gen(function*() {
    if (ctx.clientRoots === undefined) return undefined
    const roots = yield* ctx.clientRoots
    if (roots === "asking") return yield* new LocalPathDeniedError({ message: "the client's roots are being asked for" })
    return roots
  })

const request = ({ detail: _, mode, ...input }: typeof Input.Type, ctx: Tool.ToolContext, clientRoots: ReadonlyArray<string> | undefined) => ({
  ...input,
  clientRoots,
  mode: mode === undefined ? undefined : Number.parseInt(mode, 8),
  onProgress: ctx.wantsProgress ? (done: number, total: number) => ctx.progress(done, `${done} / ${total} bytes`, total) : undefined
})

export const sshUpload = Tool.make({
  name: "ssh_upload",
  title: "Upload over SSH",
  description:
    "Copy a local file or directory to the host over SSH (SFTP, tar or parallel channels), atomically: temporary file, sha256 checked on both " +
    "ends, rename. Returns bytes, sha256 and verified.",
  annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  task: "own",
  handler: Effect.fnUntraced(function*(input, ctx) {
    const roots = yield* clientRoots(ctx)
    yield* enforcePolicy(ctx, input.host, { _tag: "Upload", remotePath: input.remotePath })
    return toOutput(yield* (yield* Transfers).upload(request(input, ctx, roots)), input.detail === true)
  })
})

export const sshDownload = Tool.make({
  name: "ssh_download",
  title: "Download over SSH",
  description:
    "Copy a file or directory from the host to this machine, atomically, as ssh_upload does.",
  annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  task: "own",
  handler: Effect.fnUntraced(function*(input, ctx) {
    return toOutput(yield* (yield* Transfers).download(request(input, ctx, yield* clientRoots(ctx))), input.detail === true)
  })
})
