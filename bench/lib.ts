/**
 * What the bench's measurements share: timing (medians of interleaved runs), the OpenSSH
 * client over a ControlMaster connection (the fair comparison: ours is connected too), the
 * page cache's state before a transfer, test files and trees.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { McpServerProcess } from "../test/support/mcp.ts"
import { call } from "../test/support/mcp.ts"
import type { Sshd } from "../test/support/sshdServer.ts"

/** The machine's temporary directory, before a run's own takes its place (for what must outlive the run). */
export const SYSTEM_TMP = os.tmpdir()

// As the test suite's global setup does (test/support/tmpdir.ts): what a bench run's servers,
// sshds and files make in the temporary directory (a fresh HOME per server …) goes under one
// directory of the run's, removed when the process exits.
const runTmp = fs.mkdtempSync(path.join(SYSTEM_TMP, "mcpssh-bench-run-"))
// The sshd's test users read files under it (trees and files to upload).
fs.chmodSync(runTmp, 0o755)
process.env.TMPDIR = runTmp
process.on("exit", () => fs.rmSync(runTmp, { recursive: true, force: true }))

export interface Row {
  /** The measurement's number (the row is replaced by a later run of the same number). */
  readonly id: number
  readonly item: string
  readonly ours: string
  readonly openssh: string
  readonly ratio: string
  readonly target: string
  readonly met: boolean | null
  readonly data: Record<string, number | string | null>
  /** When it was measured (set when the row is recorded). */
  readonly date?: string
}

export const log = (s: string) => process.stderr.write(`[bench] ${s}\n`)
export const ms = (n: number) => `${n.toFixed(1)} ms`
export const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
export const now = () => performance.now()

/** Runs per timed figure (medians of at least 3). */
export const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 3) || 3)
export const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
/** A timed figure: its samples and their median. */
export interface Timed {
  readonly median: number
  readonly samples: ReadonlyArray<number>
}

/**
 * Each of `fns` run `runs` times, interleaved (a, b, c, a, b, c, …) so that the load of a
 * shared machine drifting during the run weighs on every side alike: samples and medians.
 */
export const interleaved = async <K extends string>(fns: Record<K, () => Promise<number>>, runs = RUNS): Promise<Record<K, Timed>> => {
  const keys = Object.keys(fns) as Array<K>
  const samples = new Map<K, Array<number>>(keys.map((k) => [k, []]))
  for (let i = 0; i < runs; i++) for (const k of keys) samples.get(k)!.push(await fns[k]())
  const out = {} as Record<K, Timed>
  for (const k of keys) out[k] = { median: median(samples.get(k)!), samples: samples.get(k)! }
  return out
}
export const fmtSamples = (xs: ReadonlyArray<number>, digits = 2) => xs.map((x) => x.toFixed(digits)).join(", ")

/** The 1-minute load average now (recorded with each row: figures move with it). */
export const load = () => Number(os.loadavg()[0]!.toFixed(2))

/** The OpenSSH cipher the bench also times besides the client's default. */
export const GCM = "aes128-gcm@openssh.com"

/** The job commands of rows 3 (ingest) and 4 (raw stream), also profiled by bench/profile.ts. */
export const JOB_COMMAND = { ingest: "seq 1 10000000", raw: "head -c 1000000000 /dev/zero" } as const

/** Run a program, output discarded: milliseconds and exit code. */
export const sh = (command: string, args: Array<string>) =>
  new Promise<{ ms: number; code: number | null }>((resolve) => {
    const t0 = now()
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "ignore"] })
    child.on("exit", (code) => resolve({ ms: now() - t0, code }))
  })

/** Where the OpenSSH client connects: the sshd itself, or the delaying proxy in front of it. */
export interface Endpoint {
  readonly port: number
  readonly knownHostsPath: string
}

export const directEndpoint = (sshd: Sshd): Endpoint => ({ port: sshd.port, knownHostsPath: sshd.knownHostsPath })

/** Options every OpenSSH client of the bench gets (ssh, sftp and scp alike). */
export const clientOptions = (sshd: Sshd, at: Endpoint) => [
  "-i", sshd.clientKeyPath, "-o", `UserKnownHostsFile=${at.knownHostsPath}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"
]
export const sshArgs = (sshd: Sshd, extra: Array<string> = [], at: Endpoint = directEndpoint(sshd)) => [
  ...clientOptions(sshd, at), "-p", String(at.port), ...extra, `${sshd.user.name}@127.0.0.1`
]

/**
 * An OpenSSH ControlMaster connection, already up, as ours is: every `ssh`, `sftp` and
 * `scp` given `options` runs as a new session on it (no handshake). The cipher is the
 * master's.
 */
export interface Mux {
  readonly cipher: "default" | typeof GCM
  /** `-o ControlPath=…` and the rest, for ssh, sftp and scp. */
  readonly options: Array<string>
  close(): void
}

let muxes = 0

export const startMux = async (sshd: Sshd, cipher: Mux["cipher"], at: Endpoint = directEndpoint(sshd)): Promise<Mux> => {
  const control = path.join(os.tmpdir(), `mcpssh-bench-cm-${process.pid}-${muxes++}`)
  const cipherArgs = cipher === "default" ? [] : ["-c", cipher]
  const master = spawn("ssh", sshArgs(sshd, [...cipherArgs, "-o", "ControlMaster=yes", "-o", `ControlPath=${control}`, "-N"], at), { stdio: "ignore" })
  for (let i = 0; i < 100 && !fs.existsSync(control); i++) await new Promise((r) => setTimeout(r, 100))
  if (!fs.existsSync(control)) throw new Error(`the ControlMaster (${cipher}) did not start`)
  return {
    cipher,
    options: [...clientOptions(sshd, at), "-o", "ControlMaster=no", "-o", `ControlPath=${control}`],
    close: () => {
      master.kill()
      fs.rmSync(control, { force: true })
    }
  }
}

/** `ssh` over the mux: arguments to run `command` on the host. */
export const muxSsh = (sshd: Sshd, mux: Mux, at: Endpoint, command: string) => [...mux.options, "-p", String(at.port), `${sshd.user.name}@127.0.0.1`, command]

/** Seconds for the OpenSSH client (over `mux`) to run `command` on the host with its output to /dev/null. */
export const opensshRun = (sshd: Sshd, mux: Mux, command: string) => async () =>
  (await sh("ssh", muxSsh(sshd, mux, directEndpoint(sshd), command))).ms / 1000

/** `sftp -b batch` over the mux. */
export const sftpArgs = (sshd: Sshd, mux: Mux, at: Endpoint, batch: string) =>
  ["-q", "-b", batch, ...mux.options, "-P", String(at.port), `${sshd.user.name}@127.0.0.1`]

/** OpenSSH timed with its default cipher and with aes128-gcm (interleaved with ours): the faster of the two. */
export const opensshBest = (byDefault: Timed, gcm: Timed) => ({
  byDefault,
  gcm,
  best: gcm.median < byDefault.median ? { s: gcm.median, cipher: GCM } : { s: byDefault.median, cipher: "default" }
})
export const opensshCell = (o: ReturnType<typeof opensshBest>, fmt: (s: number) => string) =>
  `${fmt(o.best.s)} (${o.best.cipher === GCM ? "aes128-gcm" : "default cipher"}; other: ${fmt(o.best.cipher === GCM ? o.byDefault.median : o.gcm.median)})`

/**
 * Wait for a job's end with one blocked tail past every line: from the end (`last: 0`) of
 * stderr, which the measured commands never write to, so no line is transferred.
 */
export const waitEnd = async (server: McpServerProcess, jobId: string) => {
  for (;;) {
    const r = await call(server, "ssh_tail", { job_id: jobId, last: 0, stream: "stderr", wait_ms: 45_000 })
    if (r.data.status !== "running") return r.data
  }
}

/**
 * Write out what earlier transfers left in the page cache before the next is timed: else
 * the kernel's writeback of one run's gigabyte lands, at random, in the next one's time
 * (ours or OpenSSH's; up to 2× on one upload here).
 */
export const settle = () => new Promise<void>((resolve) => execFile("sync", () => resolve()))

/** Read every file under `target` (a file or a directory) into the page cache, without holding it. */
export const readBack = (target: string) =>
  new Promise<void>((resolve) => execFile("sh", ["-c", 'find "$1" -type f -exec cat -- {} + > /dev/null', "sh", target], () => resolve()))

/**
 * Before a transfer row, as root: write out and drop the kernel's clean caches. Hours of
 * test runs leave hundreds of MB of dentries and inodes behind, and this VM's ext4 then
 * took 1.5–7 s of kernel time instead of 0.3 s to create 10 000 small files (any client's).
 */
export const dropCaches = async () => {
  await settle()
  try {
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3")
  } catch {
    log("could not drop the kernel's caches (not root?): file creation may be slower than on a fresh machine")
  }
}

/**
 * Where the single-file rows keep their files, on both ends (the host is this machine): a
 * RAM file system, so that neither side waits on this VM's disk, whose writeback of one
 * run's gigabyte otherwise lands at random in another's time.
 */
export const SHM = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir()

/**
 * Our server's arguments for the bench's sshd: the host `box`, the test user's key, and as
 * local roots the temp directory and SHM (/dev/shm where there is one), where the transfers
 * read and write: the server, started without TMPDIR, would not count SHM as one of its own.
 */
export const serverArgs = (sshd: Sshd, extra: Array<string> = []) => [
  "--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name,
  "--key", sshd.clientKeyPath, "--local-root", os.tmpdir(), ...(SHM === os.tmpdir() ? [] : ["--local-root", SHM]), ...extra
]

/** A file of `mib` MiB of random bytes. */
export const randomFile = (file: string, mib: number) =>
  new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(file)
    let left = mib
    const chunk = Buffer.alloc(1024 * 1024)
    const write = () => {
      while (left > 0) {
        for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i)
        left--
        if (!out.write(chunk)) return out.once("drain", write)
      }
      out.end(resolve)
    }
    out.on("error", reject)
    write()
  })

/** `count` files of 1–8 KiB in `dirs` directories under `root`: their total bytes. */
export const smallTree = (root: string, count: number, dirs: number) => {
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const f = path.join(root, `d${i % dirs}`, `f${i}.bin`)
    if (i < dirs) fs.mkdirSync(path.dirname(f), { recursive: true })
    const size = 1024 + Math.floor(Math.random() * 7 * 1024)
    bytes += size
    fs.writeFileSync(f, Buffer.alloc(size, i % 251))
  }
  return bytes
}

/** The sha256 of a local file and of a remote one (over the mux) at once, as a careful operator checks a copy: seconds. */
export const sha256sumBoth = async (sshd: Sshd, mux: Mux, local: string, remote: string) => {
  const t0 = now()
  const [a, b] = await Promise.all([sh("sha256sum", [local]), sh("ssh", muxSsh(sshd, mux, directEndpoint(sshd), `sha256sum ${remote}`))])
  if (a.code !== 0 || b.code !== 0) throw new Error(`sha256sum failed (${a.code}, ${b.code})`)
  return (now() - t0) / 1000
}
