/**
 * The host's side of a tree moved as one tar stream: the commands (GNU tar, find, mv) and
 * the check that the host has them.
 *
 * @since 0.2.0
 */
import { shellQuote } from "../ssh/shell.js"
import { hashStdin } from "./remoteHash.js"

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
    `(cd -- ${t} && tar -x -b 256 -B -p -m --no-same-owner -f -) || { rm -rf -- ${t}; exit 1; }; cd -- ${t} && { ${hashTree}; }`
}

/** Exits 0 where `tail` can follow a file until a process ends (GNU's `--pid`). */
const tailFollows = "tail --pid=1 -c 0 -- /dev/null >/dev/null 2>&1"

/**
 * Python 3 hashing a file as it grows, until process `argv[2]` has ended (then to its end):
 * one process reading the file in 1 MiB pieces into hashlib's OpenSSL sha256, so the bytes
 * cross no pipe. Prints the hex digest. Exits non-zero, having printed nothing, where
 * hashlib is not OpenSSL's (Python's own sha256 lacks the CPU's SHA instructions) or the file
 * never appeared.
 */
const followScript = [
  "import hashlib, os, sys, time",
  "if getattr(hashlib.sha256, \"__name__\", \"\") != \"openssl_sha256\": sys.exit(3)",
  "name, pid = sys.argv[1], int(sys.argv[2])",
  "def ended():",
  "    try:",
  "        os.kill(pid, 0)",
  "    except ProcessLookupError:",
  "        return True",
  "    except OSError:",
  "        pass",
  "    return False",
  "f = None",
  "while f is None:",
  "    over = ended()",
  "    try:",
  "        f = open(name, \"rb\", buffering=0)",
  "    except FileNotFoundError:",
  "        if over: sys.exit(1)",
  "        time.sleep(0.02)",
  "h = hashlib.sha256()",
  "b = bytearray(1 << 20)",
  "m = memoryview(b)",
  "while True:",
  "    over = ended()",
  "    n = f.readinto(b)",
  "    if n: h.update(m[:n])",
  "    elif over: break",
  "    else: time.sleep(0.02)",
  "print(h.hexdigest())"
].join("\n")

/** `followScript` as one `python3 -c` argument with no newline in it (a JSON string is a Python string literal). */
const followProgram = `exec(${JSON.stringify(followScript)})`

/**
 * `unpackCommand` for an archive of ONE file, `rel`, hashed as it lands instead of after:
 * while `tar -x` writes it, a follower reads the file back as it grows (what landed on the
 * disk, not the stream on its way to tar) and stops once tar has ended (tar is the shell's
 * foreground child, reaped at once, so the follower sees it gone). The follower is Python 3
 * (`followScript`) where the host has it with OpenSSL's sha256: ~0.6 CPU-s per GiB less
 * than GNU `tail -F --pid` piped into the hasher, which is what runs otherwise, and also
 * when Python fails part-way (tail reads the file from its first byte again). The digest
 * comes out as `hex *./rel`, like `unpackCommand`'s, after tar's exit (sshd holds the
 * channel open until the follower has closed its output). Where `tail` has no `--pid`:
 * `unpackCommand`.
 */
export const unpackOneCommand = (root: string, temp: string, rel: string): string => {
  const t = shellQuote(temp)
  const follow = `cd -- "$1" || exit 1; (h=$(python3 -c "$3" "$2" $$ 2>/dev/null || ` +
    `tail -c +1 -s 0.02 --pid=$$ -F -- "$2" 2>/dev/null | { ${hashStdin}; }) && ` +
    `printf "%s *./%s\\n" "\${h%% *}" "$2") & exec tar -x -b 256 -B -p -m --no-same-owner -f -`
  return `${tailFollows} || { ${unpackCommand(root, temp)}; exit; }; ` +
    `cd -- ${shellQuote(root)} || exit 1; mkdir -m 700 -- ${t} || exit 1; ` +
    `sh -c '${follow}' sh ${t} ${shellQuote(rel)} ${shellQuote(followProgram)} || { rm -rf -- ${t}; exit 1; }`
}

/**
 * Move what `temp` (in `root`) holds to the same places under `root`. The directories come
 * on stdin ("./rel", NUL-separated, every ancestor before its descendants): one that does
 * not exist under `root` yet is moved whole, by one rename(2); in one that does, each file is
 * renamed (`mv -t`), which replaces a file or symlink but never a directory. Then `temp` goes.
 */
export const placeCommand = (root: string, temp: string): string =>
  `cd -- ${shellQuote(root)} && R=$(pwd) && T="$R"/${shellQuote(temp)} && export R T && ` +
  // First refuse (before anything moves) a directory's place taken by something else.
  `xargs -0 sh -c 'for d; do [ ! -e "$R/$d" ] || [ -d "$R/$d" ] || { echo "$R/$d is not a directory" >&2; exit 255; }; done; ` +
  `for d; do [ -d "$T/$d" ] || continue; ` +
  `if [ "$d" != . ] && [ ! -e "$R/$d" ] && [ ! -L "$R/$d" ]; then mv -T -- "$T/$d" "$R/$d" || exit 255; ` +
  `else (cd -- "$T/$d" && find . -mindepth 1 -maxdepth 1 -type f -exec mv -f -t "$R/$d" -- {} +) || exit 255; fi; done' sh && ` +
  `rm -rf -- "$T"`

/** The stdin of `placeCommand` for files at these "/"-separated relative paths. */
export const placeInput = (rels: ReadonlyArray<string>): string => {
  const dirs = new Set<string>(["."])
  for (const rel of rels) {
    const parts = rel.split("/").slice(0, -1)
    for (let i = 1; i <= parts.length; i++) dirs.add(`./${parts.slice(0, i).join("/")}`)
  }
  const depth = (d: string) => d.split("/").length
  return [...dirs].sort((a, b) => depth(a) - depth(b)).map((d) => `${d}\0`).join("")
}

/** Write the regular files named "./rel" NUL-separated on stdin, from `root`, as a pax archive on stdout. */
export const packCommand = (root: string): string =>
  `cd -- ${shellQuote(root)} && tar -c -b 256 --format=pax --hard-dereference --no-recursion --null --verbatim-files-from -T - -f -`
