/**
 * Where the server's time goes: one workload run a few times through the built server on
 * the bench's sshd, with V8's CPU profiler on in the server. Prints each run's wall time and
 * the server's CPU time, then the functions with the most self time over all runs (the
 * figures behind docs/BENCHMARKS.md's Findings). Not a benchmark: the profiler slows the
 * server down by a few per cent; compare profiles with profiles.
 *
 * Run: npm run bench:profile -- <ingest|raw|up|down> [runs=3] [top=25]
 *   ingest   `seq 1 10000000` through a job until its end is seen (row 3)
 *   raw      `head -c 1000000000 /dev/zero` through a job (row 4)
 *   up/down  one 1 GiB file in /dev/shm uploaded / downloaded, verified (row 6)
 * PROFILE_KEEP=1 keeps the .cpuprofile (its path is printed) for Chrome's DevTools.
 * PROFILE_LOG_DIR=1 runs the server with `--log-dir` (row 3's log mirror).
 * Each run's CPU is split: the server; the host's sshd (the connection's cipher and channels,
 * one thread per connection) and the commands it ran; the rest of the machine (this script,
 * the OpenSSH client). PROFILE_SFTP=1 follows each run with OpenSSH doing the same over a
 * ControlMaster with aes128-gcm, split the same way: `sftp` moving the same file (up/down),
 * `ssh` running the same command with its output to /dev/null (ingest/raw).
 * PROFILE_NODE_OPTIONS adds to the server's NODE_OPTIONS (e.g. `--import` of a GC observer).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { call, startMcpServer } from "../test/support/mcp.ts"
import { startSshd } from "../test/support/sshdServer.ts"
import { directEndpoint, GCM, JOB_COMMAND, log, muxSsh, now, randomFile, serverArgs, sftpArgs, sh, SHM, startMux, SYSTEM_TMP, waitEnd } from "./lib.ts"

const [what = "", runsArg = "3", topArg = "25"] = process.argv.slice(2)
const WORKLOADS = ["ingest", "raw", "up", "down"]
if (!WORKLOADS.includes(what)) {
  process.stderr.write(`usage: npm run bench:profile -- <${WORKLOADS.join("|")}> [runs] [top]\n`)
  process.exit(2)
}
const runs = Math.max(1, Number(runsArg) || 3)
const top = Math.max(1, Number(topArg) || 25)

/** A process's stat fields after its name: [2] is the parent, [11]/[12] its own user/system ticks, [13]/[14] those of its reaped children. */
const statFields = (pid: number | string) => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  } catch {
    return undefined // it has just ended
  }
}
const TICK = 100

/** CPU seconds (user + system) that process `pid` has used so far. */
const cpuSeconds = (pid: number) => {
  const f = statFields(pid)!
  return (Number(f[11]) + Number(f[12])) / TICK
}

/** CPU seconds (user + system, all cores) the whole machine has used so far. */
const machineSeconds = () => {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / TICK
}

/**
 * The host's side, from the sshd listener `root` down: the CPU seconds of the sshd processes
 * themselves (each connection's cipher and channels: one thread per connection) and of the
 * commands they ran (the shells, tar, openssl, sftp-server: counted once reaped, or while alive).
 */
const hostSeconds = (root: number) => {
  const procs = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    const f = statFields(pid)
    const comm = f === undefined ? undefined : fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()
    return f === undefined ? [] : [{ pid: Number(pid), ppid: Number(f[1]), comm, own: (Number(f[11]) + Number(f[12])) / TICK, reaped: (Number(f[13]) + Number(f[14])) / TICK }]
  })
  const under = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const p of procs) if (!under.has(p.pid) && under.has(p.ppid)) grew = under.add(p.pid) !== undefined
  }
  let sshd = 0
  let commands = 0
  for (const p of procs.filter((p) => under.has(p.pid))) {
    if (p.comm?.startsWith("sshd") === true) {
      sshd += p.own
      commands += p.reaped
    } else commands += p.own + p.reaped
  }
  return { sshd, commands }
}

/** What a run cost, as a line: wall time, the server's CPU, the host's sshd and its commands, and the rest of the machine. */
const costOf = async (serverPid: number | undefined, sshdPid: number, run: () => Promise<void>) => {
  const [server0, host0, all0, t0] = [serverPid === undefined ? 0 : cpuSeconds(serverPid), hostSeconds(sshdPid), machineSeconds(), now()]
  await run()
  const wall = (now() - t0) / 1000
  const server = serverPid === undefined ? 0 : cpuSeconds(serverPid) - server0
  const host1 = hostSeconds(sshdPid)
  const [sshd, commands] = [host1.sshd - host0.sshd, host1.commands - host0.commands]
  return `${wall.toFixed(3)} s; CPU: ${serverPid === undefined ? "" : `server ${server.toFixed(2)} s, `}sshd ${sshd.toFixed(2)} s, its commands ${commands.toFixed(2)} s, the rest ${(machineSeconds() - all0 - server - sshd - commands).toFixed(2)} s`
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Self time per function (ms), most first. */
const selfTimes = (profile: CpuProfile) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame
    const name = `${f.functionName || "(anonymous)"} ${f.url === "" ? "" : `${path.basename(f.url)}:${f.lineNumber + 1}`}`.trim()
    totals.set(name, (totals.get(name) ?? 0) + profile.timeDeltas[i]! / 1000)
  })
  return [...totals].sort((a, b) => b[1] - a[1])
}

const sshd = await startSshd({ maxSessions: 10 })
// Outside the run's temporary directory: PROFILE_KEEP=1 keeps the profile after the run.
const profDir = fs.mkdtempSync(path.join(SYSTEM_TMP, "mcpssh-profile-"))
const work = fs.mkdtempSync(path.join(SHM, "mcpssh-profile-"))
const remoteDir = `${SHM}/mcpssh-profile-${process.pid}`
const logDir = process.env.PROFILE_LOG_DIR === "1" ? fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-profile-logs-")) : undefined
const server = await startMcpServer({
  args: serverArgs(sshd, ["--max-jobs-per-host", "200", ...(logDir === undefined ? [] : ["--log-dir", logDir])]),
  env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir} ${process.env.PROFILE_NODE_OPTIONS ?? ""}` }
})
try {
  await call(server, "ssh_exec", { command: "true" })
  const file = path.join(work, "gib.bin")
  if (what === "up" || what === "down") {
    log("a 1 GiB file of random bytes")
    await randomFile(file, 1024)
    await sshd.exec(`mkdir -p ${remoteDir} && chown ${sshd.user.name} ${remoteDir}`)
    // Put there directly (the same machine), so that the profile holds the downloads alone.
    if (what === "down") await sshd.exec(`cp ${file} ${remoteDir}/gib.bin && chown ${sshd.user.name} ${remoteDir}/gib.bin`)
  }
  const once = async (i: number) => {
    if (what === "ingest" || what === "raw") {
      const j = await call(server, "ssh_spawn", { command: JOB_COMMAND[what] })
      const end = await waitEnd(server, j.data.job_id as string)
      if (end.exit_status !== 0) throw new Error(`the job ended ${JSON.stringify(end)}`)
      await call(server, "ssh_remove_job", { job_id: j.data.job_id })
      return
    }
    const r = what === "up"
      ? await call(server, "ssh_upload", { local_path: file, remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
      : await call(server, "ssh_download", { local_path: path.join(work, `back${i}.bin`), remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
    if (r.isError || r.data.verified !== true) throw new Error(`${what}: ${r.text.slice(0, 300)}`)
    if (what === "down") fs.rmSync(path.join(work, `back${i}.bin`), { force: true })
  }
  const mux = process.env.PROFILE_SFTP === "1" ? await startMux(sshd, GCM) : undefined
  /** The same work by OpenSSH over `mux`: `sftp` for a transfer, `ssh` running the job's command. */
  const openssh = async () => {
    if (mux === undefined) return
    if (what === "ingest" || what === "raw") {
      const cost = await costOf(undefined, sshd.pid, async () => {
        const r = await sh("ssh", muxSsh(sshd, mux, directEndpoint(sshd), JOB_COMMAND[what]))
        if (r.code !== 0) throw new Error(`ssh ${what} exited ${r.code}`)
      })
      process.stdout.write(`  ssh ${what}: ${cost} (the OpenSSH client and its master)\n`)
      return
    }
    const batch = path.join(work, "batch")
    const back = path.join(work, "sftp-back.bin")
    fs.writeFileSync(batch, what === "up" ? `put ${file} ${remoteDir}/sftp.bin\n` : `get ${remoteDir}/gib.bin ${back}\n`)
    const cost = await costOf(undefined, sshd.pid, async () => {
      const r = await sh("sftp", sftpArgs(sshd, mux, directEndpoint(sshd), batch))
      if (r.code !== 0) throw new Error(`sftp ${what} exited ${r.code}`)
    })
    process.stdout.write(`  sftp ${what}: ${cost} (sftp itself)\n`)
    fs.rmSync(back, { force: true })
  }
  for (let i = 0; i < runs; i++) {
    // As row 6 does: the last round's copies go first (this VM's pages once freed are slow to take again).
    if (what === "up") await sshd.exec(`rm -f ${remoteDir}/gib.bin ${remoteDir}/sftp.bin`)
    const cost = await costOf(server.pid, sshd.pid, () => once(i))
    process.stdout.write(`${what} run ${i + 1}: ${cost} (load ${os.loadavg()[0]!.toFixed(1)})\n`)
    await openssh()
  }
  mux?.close()
} finally {
  await server.close()
  await sshd.exec(`rm -rf ${remoteDir}`)
  fs.rmSync(work, { recursive: true, force: true })
  if (logDir !== undefined) fs.rmSync(logDir, { recursive: true, force: true })
  await sshd.stop()
}
const written = fs.readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"))
if (written.length !== 1) throw new Error(`expected one profile in ${profDir}, found ${written.length}`)
const profileFile = path.join(profDir, written[0]!)
const times = selfTimes(JSON.parse(fs.readFileSync(profileFile, "utf8")) as CpuProfile)
const busy = times.filter(([name]) => name !== "(idle)").reduce((s, [, ms]) => s + ms, 0)
process.stdout.write(`\nserver self time over the whole profile (start-up included): ${(busy / 1000).toFixed(2)} s busy\n`)
for (const [name, ms] of times.filter(([name]) => name !== "(idle)").slice(0, top)) process.stdout.write(`${(ms / runs).toFixed(1).padStart(9)} ms/run  ${(100 * ms / busy).toFixed(1).padStart(5)} %  ${name}\n`)
if (process.env.PROFILE_KEEP === "1") process.stdout.write(`\nprofile: ${profileFile}\n`)
else fs.rmSync(profDir, { recursive: true, force: true })
