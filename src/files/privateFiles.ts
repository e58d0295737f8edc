/**
 * Local files only their owner can read, created so that no other local user can
 * pre-create, swap or symlink them first (SPEC §8): download temporaries and job log
 * mirrors.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** O_NOFOLLOW where the platform has it. */
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/** Create `file` (0600), failing with EEXIST if anything, a symlink included, is already there. */
export const createExclusive = (file: string): void => {
  const { O_CREAT, O_EXCL, O_WRONLY } = fs.constants
  fs.closeSync(fs.openSync(file, O_CREAT | O_EXCL | O_WRONLY | NOFOLLOW, 0o600))
}

/**
 * A temporary file for `target`, in a fresh 0700 directory next to it (same file system, so
 * the final rename is atomic): `.<name>.mcpssh-XXXXXX/<name>`, created empty with 0600. Inside
 * a directory only we can enter, the file can be reopened by name (as ssh2's fastGet does)
 * without anyone swapping it in between. Remove `dir` when done.
 */
export const privateTemp = (target: string): { readonly dir: string; readonly file: string } => {
  const name = path.basename(target)
  const dir = privateDir(target)
  const file = path.join(dir, name.length > 200 ? "data" : name)
  createExclusive(file)
  return { dir, file }
}

/**
 * A fresh 0700 directory next to `target` (same file system, so a final rename is atomic),
 * `.<name>.mcpssh-XXXXXX`, for the temporary files of one or more downloads into that
 * directory. Remove it when done.
 */
export const privateDir = (target: string): string =>
  fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target).slice(0, 100)}.mcpssh-`))

/** Open `file` for writing, created 0600, failing with EEXIST if anything, a symlink included, is already there. */
export const openExclusive = (file: string): number => {
  const { O_CREAT, O_EXCL, O_WRONLY } = fs.constants
  return fs.openSync(file, O_CREAT | O_EXCL | O_WRONLY | NOFOLLOW, 0o600)
}

/**
 * Make `dir` (0700, parents too) or narrow an existing one to its owner (group and other
 * bits cleared). Returns what to log: the narrowing, or why it could not be done.
 */
export const ensurePrivateDir = async (dir: string): Promise<{ readonly warn: boolean; readonly message: string } | undefined> => {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 })
  const st = await fs.promises.stat(dir)
  if ((st.mode & 0o077) === 0) return undefined
  const was = `0${(st.mode & 0o777).toString(8)}`
  try {
    await fs.promises.chmod(dir, st.mode & 0o700)
    return { warn: false, message: `${dir} was open to other users (mode ${was}): narrowed to 0${(st.mode & 0o700).toString(8)}` }
  } catch (e) {
    return { warn: true, message: `${dir} is open to other users (mode ${was}) and could not be narrowed: ${(e as Error).message}; its files are still 0600` }
  }
}

/** Open `file` for appending, created 0600 (an existing file is narrowed to 0600); never through a symlink. */
export const openPrivateAppend = (file: string): fs.WriteStream => {
  const { O_APPEND, O_CREAT, O_WRONLY } = fs.constants
  const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | NOFOLLOW, 0o600)
  try {
    fs.fchmodSync(fd, 0o600)
  } catch (e) {
    fs.closeSync(fd)
    throw e
  }
  return fs.createWriteStream(file, { fd })
}

/** `openPrivateAppend` without blocking the event loop (the same flags and mode). */
export const openPrivateAppendAsync = async (file: string): Promise<fs.WriteStream> => {
  const { O_APPEND, O_CREAT, O_WRONLY } = fs.constants
  const handle = await fs.promises.open(file, O_WRONLY | O_APPEND | O_CREAT | NOFOLLOW, 0o600)
  try {
    await handle.chmod(0o600)
  } catch (e) {
    await handle.close()
    throw e
  }
  return fs.createWriteStream(file, { fd: handle })
}
