/**
 * The host's side of a single file uploaded as ranges over several exec channels ("lanes"):
 * each lane carries chunks of the file (`<offset> <length>` then the bytes), written in place
 * by `dd`; one more channel, the hasher, checks the target, creates the temporary file and
 * hashes it as it grows with the host's own tool, so the host's sha256 is of the whole file,
 * as before, and costs no pass after the transfer.
 *
 * The temporary file is removed by the host itself unless the digest it computed is the one
 * we sent: a connection that drops, a cancel, a digest that differs all leave nothing behind,
 * even when we can no longer ask (writers never create the file again: `conv=nocreat`).
 *
 * Needs dd with `iflag=count_bytes,skip_bytes,fullblock`, `oflag=seek_bytes` and
 * `conv=nocreat` (GNU coreutils ≥ 8.16, BusyBox builds with them); the hasher says when the
 * host lacks them and the caller takes another path.
 *
 * @since 0.3.0
 */
import { shellQuote } from "../ssh/shell.js"
import { hashStdin } from "./remoteHash.js"

/** Exits 0 where dd has every flag the lanes use. */
const ddFlags = "dd if=/dev/null of=/dev/null bs=1M count=0 iflag=count_bytes,skip_bytes,fullblock oflag=seek_bytes conv=notrunc,nocreat status=none 2>/dev/null"

const hasHasher = "{ command -v openssl || command -v sha256sum || command -v shasum; } >/dev/null 2>&1"

export interface HasherOptions {
  /** Create the directory first. */
  readonly mkdirs: boolean
  /** Replace a file at the target. */
  readonly overwrite: boolean
  /** Permission bits the file gets when it is placed. */
  readonly mode: number
  /**
   * Create the temporary file right after `ok`, not waiting for `go` (the caller has
   * committed to the lanes: it knew the round trip before opening them). Saves a round trip.
   */
  readonly atOnce?: boolean | undefined
}

/**
 * The hasher of an upload into `dir`/`name`. First its verdict, one line: `ranged <why>` when
 * this path does not fit (no dd with the flags, no hasher, a symlink or a directory at the
 * target, a file there and no overwrite, a directory it cannot enter): it ends; else `ok`,
 * and it waits for `go` (anything else, or the end of its input: it ends, having created
 * nothing; with `atOnce` it does not wait). Then it creates `temp` (exclusively, 0600) and
 * prints `ready`; reads lengths, one a line, of the written prefix of `temp` as it grows, in order, and hashes them; after
 * `end`, a digest: when it is the one computed, `temp` gets its mode and is renamed over
 * `name`. It prints its digest, then `placed`; on anything else (another digest, the end of
 * its input on a cancel or a dropped connection) it removes `temp`. SIGPIPE is ignored, so
 * a closed channel cannot kill it between creating and removing the file.
 */
export const hasherCommand = (dir: string, temp: string, name: string, o: HasherOptions): string => {
  const [d, t, n] = [dir, temp, name].map(shellQuote)
  const no = (why: string) => `{ echo 'ranged ${why}'; exit 0; }`
  return `trap '' PIPE; ${o.mkdirs ? `mkdir -p -- ${d} 2>/dev/null; ` : ""}cd -- ${d} 2>/dev/null || ${no("no-dir")}; ` +
    `${ddFlags} || ${no("no-dd")}; ${hasHasher} || ${no("no-hash")}; ` +
    `if [ -L ${n} ]; then ${no("symlink")}; elif [ -d ${n} ]; then ${no("directory")}; ` +
    `elif [ -e ${n} ]; then ${o.overwrite ? ":" : no("exists")}; fi; echo ok; ` +
    `${o.atOnce === true ? "" : `read -r go; [ "$go" = go ] || exit 0; `}trap 'rm -f -- ${t}; exit 1' HUP INT TERM; ` +
    `(set -C; umask 077; : > ${t}) 2>/dev/null || ${no("no-temp")}; echo ready; ` +
    `h=$({ p=0; while read -r l; do [ "$l" = end ] && break; ` +
    `dd if=${t} bs=1M skip="$p" count="$l" iflag=skip_bytes,count_bytes status=none || exit 1; p=$((p + l)); done; } | { ${hashStdin}; }); ` +
    `h=\${h%% *}; echo "$h"; v=; read -r v; if [ -n "$h" ] && [ "$v" = "$h" ]; then ` +
    `chmod ${o.mode.toString(8).padStart(4, "0")} ${t} && mv -f -- ${t} ${n} && echo placed || { rm -f -- ${t}; exit 1; }; ` +
    `else rm -f -- ${t}; fi`
}

/** The hasher's first line: `ok`, or why this path does not fit. */
export const parseVerdict = (line: string | undefined): { readonly ok: true } | { readonly ok: false; readonly why: string } =>
  line === "ok" ? { ok: true } : { ok: false, why: /^ranged (\S+)$/.exec(line ?? "")?.[1] ?? "no answer" }

/**
 * One lane of an upload: reads `<offset> <length>` lines, each followed by that many bytes,
 * writes them at their place in `file` (never creating it: the hasher has, before any chunk
 * is sent; the directory too, so no `cd` here), and acknowledges each chunk with its offset
 * on a line once it is written.
 */
export const writerCommand = (file: string): string =>
  `while read -r o l; do ` +
  `dd of=${shellQuote(file)} bs=1M seek="$o" count="$l" iflag=count_bytes,fullblock oflag=seek_bytes conv=notrunc,nocreat status=none || exit 1; ` +
  `echo "$o"; done`

/**
 * The hasher of a download of `file` over lanes (`readerCommand`). First its verdict, one
 * line: `ranged <why>` when this path does not fit (not a regular file or a symlink, not
 * readable, no dd with the flags, no `head -c`, no hasher, no `stat -c`): it ends; else
 * `ok <size> <mode in octal>`, and it waits for `go` (anything else, or the end of its
 * input: it ends, having read nothing). Then it hashes the file with the host's own tool
 * while the lanes read it (the page cache makes that one read of the disk) and prints the
 * digest. It creates nothing: a cancel leaves nothing behind.
 */
export const sourceHasherCommand = (file: string): string => {
  const f = shellQuote(file)
  const no = (why: string) => `{ echo 'ranged ${why}'; exit 0; }`
  return `if [ -L ${f} ] || [ ! -f ${f} ]; then ${no("not-file")}; fi; [ -r ${f} ] || ${no("unreadable")}; ` +
    `${ddFlags} || ${no("no-dd")}; head -c 0 </dev/null >/dev/null 2>&1 || ${no("no-head")}; ${hasHasher} || ${no("no-hash")}; ` +
    `s=$(stat -c '%s %a' -- ${f} 2>/dev/null) || ${no("no-stat")}; ` +
    `echo "ok $s"; read -r go; [ "$go" = go ] || exit 0; h=$({ ${hashStdin}; } < ${f}) || exit 1; echo "\${h%% *}"`
}

/** The download hasher's first line: the file's size and mode, or why this path does not fit. */
export const parseSourceVerdict = (
  line: string | undefined
): { readonly ok: true; readonly size: number; readonly mode: number } | { readonly ok: false; readonly why: string } => {
  const m = /^ok (\d+) ([0-7]{1,4})$/.exec(line ?? "")
  return m !== null ? { ok: true, size: Number(m[1]), mode: parseInt(m[2]!, 8) } : { ok: false, why: /^ranged (\S+)$/.exec(line ?? "")?.[1] ?? "no answer" }
}

/**
 * One lane of a download: reads `<offset> <length>` lines and prints exactly that many
 * bytes of `file` from that offset for each, in order. Exactly: bytes the file no longer has
 * (it shrank) come as zeros, so a lane's output never shifts onto the next range; the hash
 * of the whole (the hasher reads the file as it is) tells that the file changed.
 */
export const readerCommand = (file: string): string => {
  const f = shellQuote(file)
  return `while read -r o l; do ` +
    `{ dd if=${f} bs=1M skip="$o" count="$l" iflag=skip_bytes,count_bytes status=none; head -c "$l" /dev/zero 2>/dev/null; } | head -c "$l" || exit 1; done`
}
