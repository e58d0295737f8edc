/**
 * The host's side of a tree moved as one tar stream: the commands (GNU tar, find, mv) and
 * the check that the host has them.
 *
 * @since 0.2.0
 */
import { shellQuote } from "../ssh/shell.js"

/** Prints "tar-ok" when the host has GNU tar, GNU find (-printf) and GNU mv (-t). */
export const probeCommand =
  "tar --version 2>/dev/null | grep -q 'GNU tar' && mv --help 2>&1 | grep -q -e --target-directory && " +
  "find . -maxdepth 0 -printf '' >/dev/null 2>&1 && echo tar-ok"

/** Every regular file under the current directory hashed in one go: `hex *./rel` or `hex  ./rel` lines. */
const hashTree =
  "if command -v openssl >/dev/null 2>&1; then find . -type f -print0 | xargs -0 -r openssl dgst -sha256 -r; " +
  "elif command -v sha256sum >/dev/null 2>&1; then find . -type f -print0 | xargs -0 -r sha256sum --; " +
  "else find . -type f -print0 | xargs -0 -r shasum -a 256 --; fi"

/**
 * Unpack the tar stream on stdin into a new 0700 directory `temp` (a plain name) in `root`,
 * modes as in the archive, owner and times not restored; then print the sha256 of every
 * file in it. A failed unpack removes the directory.
 */
export const unpackCommand = (root: string, temp: string): string => {
  const t = shellQuote(temp)
  return `cd -- ${shellQuote(root)} || exit 1; mkdir -m 700 -- ${t} || exit 1; ` +
    `(cd -- ${t} && tar -x -p -m --no-same-owner -f -) || { rm -rf -- ${t}; exit 1; }; cd -- ${t} && { ${hashTree}; }`
}

/**
 * Move every file of `temp` (in `root`) to the same place under `root`, directory by
 * directory (the directories, "./rel", NUL-separated on stdin), each by rename(2), which
 * replaces a file or symlink but never a directory; then remove `temp`.
 */
export const placeCommand = (root: string, temp: string): string =>
  `cd -- ${shellQuote(root)} && R=$(pwd) && T="$R"/${shellQuote(temp)} && export R T && ` +
  `xargs -0 sh -c 'for d; do (cd -- "$T/$d" && find . -mindepth 1 -maxdepth 1 -type f -exec mv -f -t "$R/$d" -- {} +) || exit 255; done' sh && ` +
  `rm -rf -- "$T"`

/** Write the regular files named "./rel" NUL-separated on stdin, from `root`, as a pax archive on stdout. */
export const packCommand = (root: string): string =>
  `cd -- ${shellQuote(root)} && tar -c --format=pax --hard-dereference --no-recursion --null --verbatim-files-from -T - -f -`
