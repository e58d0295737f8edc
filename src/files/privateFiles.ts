/**
 * Local files only their owner can read, created so that no other local user can
 * pre-create, swap or symlink them first (docs/SECURITY.md, "Other users of the local machine"): download temporaries (in the private
 * directories of src/transfers/localFiles.ts) and job log mirrors.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/** O_NOFOLLOW where the platform has it. */
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/** Flags of a file created for writing only by us: fails with EEXIST if anything, a symlink included, is there. */
export const EXCLUSIVE = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | NOFOLLOW

/**
 * Create `file` for writing, 0600, failing with EEXIST if anything (a symlink included) is
 * already there; off the event loop (a create can take a millisecond). Download temporaries
 * are made this way (SFTP and tar), inside a fresh 0700 directory.
 */
export const openExclusive = (file: string): Promise<number> =>
  new Promise<number>((resolve, reject) => fs.open(file, EXCLUSIVE, 0o600, (err, fd) => err !== null ? reject(err) : resolve(fd)))

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
