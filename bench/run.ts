/**
 * Benchmarks: mcp-ssh-live against the OpenSSH client, side by side on the same real
 * sshd on loopback, in one run. Timed figures are medians of at least 3 runs; OpenSSH
 * is timed with its default cipher and with aes128-gcm, and compared with the faster.
 * Prints a table, writes bench/results/latest.json and regenerates the results table in
 * docs/BENCHMARKS.md (between the bench markers). Not tests: nothing here fails on a
 * missed target; it reports it.
 *
 * Run: npm run bench   (needs root and sshd, like the integration tests)
 *      npm run bench -- 8 9   (only those measurements: their rows are replaced in
 *      latest.json and in the docs table, the others kept with their dates)
 *      BENCH_RUNS=5 npm run bench   (runs per median; at least 3)
 *      BENCH_TRIAL_LABEL=before npm run bench -- 12   (the agent trial, filed as "before";
 *      default "after"; see agentTrial.ts)
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { createRequire } from "node:module"
import * as path from "node:path"
import ssh2 from "ssh2"
import { defaultAlgorithms, ssh2Algorithms } from "../src/ssh/algorithms.ts"
import { rawToolsList } from "../test/support/rawToolsList.ts"
import { agentTrial, type TaskResult, type TrialResult } from "./agentTrial.ts"
import { call, type McpServerProcess, startMcpServer, tailLines } from "../test/support/mcp.ts"
import { type Sshd, startSshd } from "../test/support/sshdServer.ts"
import {
  directEndpoint, dropCaches, fmtSamples, GCM, interleaved, JOB_COMMAND, load, log, median, ms, type Mux, muxSsh, now, opensshBest, opensshCell,
  opensshRun, pct, randomFile, readBack, type Row, RUNS, serverArgs, settle, sftpArgs, sh, sha256sumBoth, SHM, smallTree, sshArgs, startMux, type Timed,
  waitEnd
} from "./lib.ts"
import { WAN_SETS, wanRows } from "./wan.ts"

/** ssh2's crypto module: whether its native binding loaded (else it uses Node's crypto). */
const ssh2Crypto = createRequire(import.meta.url)("ssh2/lib/protocol/crypto.js") as { bindingAvailable?: boolean }

/** BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers the bench starts. */
const serverEnv = process.env.BENCH_SERVER_NODE_OPTIONS === undefined ? {} : { env: { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } }

const rssMb = (pid: number, field: "VmRSS" | "VmHWM") => {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? NaN : Number(m[1]) / 1024
}

/** Measurements to run: `npm run bench -- 8 9` runs only those; none given, all but the optional ones (named only). */
const only = new Set(process.argv.slice(2).map(Number))
const want = (n: number) => only.size === 0 ? !WAN_SETS.some((w) => w.optional && w.ids.includes(n)) : only.has(n)

/** Follow a job to its end with `args`: how many ssh_tail calls, how many reply bytes (the text block), lines seen. */
const follow = async (server: McpServerProcess, jobId: string, args: Record<string, unknown>) => {
  let cursor = 0
  let calls = 0
  let bytes = 0
  let lines = 0
  for (;;) {
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: cursor, ...args })
    calls++
    bytes += Buffer.byteLength(r.text)
    lines += tailLines(r.data).length
    cursor = r.data.next_line_no as number
    if (r.data.status !== "running" && r.data.more === false) return { calls, bytes, lines }
  }
}

/** Prints 1..n, line i at i × periodMs after the start (no drift under load). */
const metronome = (n: number, periodMs: number) =>
  `python3 -u -c "import time
t = time.time()
for i in range(1, ${n + 1}):
    time.sleep(max(0, t + i * ${periodMs / 1000} - time.time()))
    print(i)"`

const main = async () => {
  const started = Date.now()
  const loadStart = os.loadavg()[0]!
  const sshd = await startSshd({ maxSessions: 10 })
  const rows: Array<Row> = []
  const info = await machineInfo(sshd)
  const server = await startMcpServer({ args: serverArgs(sshd, ["--max-jobs-per-host", "200"]), ...serverEnv })
  // OpenSSH's connections, one per cipher, opened when a row first needs one and kept up.
  const muxes = new Map<Mux["cipher"], Mux>()
  const muxOf = async (cipher: Mux["cipher"]) => {
    const mux = muxes.get(cipher) ?? await startMux(sshd, cipher)
    muxes.set(cipher, mux)
    return mux
  }
  try {
    await call(server, "ssh_exec", { command: "true" })

    if (want(1)) {
      // 1. spawn latency
      log("spawn latency: 200 spawns")
      const spawnMs: Array<number> = []
      for (let i = 0; i < 200; i++) {
        const t0 = now()
        const r = await call(server, "ssh_spawn", { command: "true" })
        spawnMs.push(now() - t0)
        await call(server, "ssh_remove_job", { job_id: r.data.job_id, force: true })
      }
      rows.push({
        id: 1,
        item: "1. spawn → job_id (p50 / p99)", ours: `${ms(pct(spawnMs, 50))} / ${ms(pct(spawnMs, 99))}`, openssh: "—", ratio: "—",
        target: "p50 < 20 ms", met: pct(spawnMs, 50) < 20, data: { p50: pct(spawnMs, 50), p99: pct(spawnMs, 99) }
      })
    }

    if (want(2)) {
      // 2. tail wake-up latency
      log("tail wake-up latency: 50 lines")
      const s = await call(server, "ssh_spawn", { command: "sleep 1; for i in $(seq 1 50); do date +%s%N; sleep 0.1; done" })
      const wake: Array<number> = []
      let cursor = 0
      for (;;) {
        const r = await call(server, "ssh_tail", { job_id: s.data.job_id, since_line_no: cursor, wait_ms: 10_000, max_lines: 1 })
        const received = Date.now()
        for (const l of tailLines(r.data)) wake.push(received - Number(BigInt(l.text) / 1_000_000n))
        cursor = r.data.next_line_no as number
        if (r.data.status !== "running" && tailLines(r.data).length === 0) break
      }
      rows.push({
        id: 2,
        item: "2. tail wake-up: printed → reply (p50 / p99)", ours: `${ms(pct(wake, 50))} / ${ms(pct(wake, 99))}`, openssh: "—",
        ratio: "—", target: "p50 < 5 ms", met: pct(wake, 50) < 5, data: { p50: pct(wake, 50), p99: pct(wake, 99), samples: wake.length }
      })
    }

    if (want(5)) {
      // 5. exec `true` round trip
      log("exec true: 100 calls, and OpenSSH over a ControlMaster connection")
      const execMs: Array<number> = []
      for (let i = 0; i < 100; i++) {
        const t0 = now()
        await call(server, "ssh_exec", { command: "true" })
        execMs.push(now() - t0)
      }
      const mux = await muxOf("default")
      const sshMux: Array<number> = []
      for (let i = 0; i < 100; i++) sshMux.push((await sh("ssh", muxSsh(sshd, mux, directEndpoint(sshd), "true"))).ms)
      const sshNew: Array<number> = []
      for (let i = 0; i < 20; i++) sshNew.push((await sh("ssh", [...sshArgs(sshd), "true"])).ms)
      rows.push({
        id: 5,
        item: "5. exec `true` on a connected host (p50 / p99)", ours: `${ms(pct(execMs, 50))} / ${ms(pct(execMs, 99))}`,
        openssh: `${ms(pct(sshMux, 50))} / ${ms(pct(sshMux, 99))} (mux); ${ms(pct(sshNew, 50))} new conn.`,
        ratio: `${(pct(execMs, 50) / pct(sshMux, 50)).toFixed(2)}×`, target: "p50 < 15 ms", met: pct(execMs, 50) < 15,
        data: { p50: pct(execMs, 50), p99: pct(execMs, 99), ssh_mux_p50: pct(sshMux, 50), ssh_new_p50: pct(sshNew, 50), load: load() }
      })
    }

    if (want(3)) {
      // 3. ingest 10M lines, with and without the log mirror
      log(`ingest: ${JOB_COMMAND.ingest}, ${RUNS} runs each`)
      const ingest = (srv: McpServerProcess) => async () => {
        const t0 = now()
        const j = await call(srv, "ssh_spawn", { command: JOB_COMMAND.ingest })
        const end = await waitEnd(srv, j.data.job_id as string)
        if (end.exit_status !== 0) throw new Error(`ingest job ended ${JSON.stringify(end)}`)
        const s = (now() - t0) / 1000
        await call(srv, "ssh_remove_job", { job_id: j.data.job_id })
        return s
      }
      const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-logs-"))
      const logged = await startMcpServer({ args: serverArgs(sshd, ["--log-dir", logDir]), ...serverEnv })
      const [byDefault, gcm] = [await muxOf("default"), await muxOf(GCM)]
      let t: Record<"ours" | "oursLogged" | "sshDefault" | "sshGcm", Timed>
      try {
        // Each run starts once the log's pages of the runs before are on the disk: else their
        // writeback lands, at random, in a later run's time (any client's).
        const settled = (run: () => Promise<number>) => async () => {
          await settle()
          return run()
        }
        const runs = {
          ours: settled(ingest(server)),
          oursLogged: settled(ingest(logged)),
          sshDefault: settled(opensshRun(sshd, byDefault, JOB_COMMAND.ingest)),
          sshGcm: settled(opensshRun(sshd, gcm, JOB_COMMAND.ingest))
        }
        // One untimed round first: a server's first 79 MB job pays for compiling its hot path
        // (0.3–0.5 s against 0.2 s after), which a server that has run for a while has done.
        for (const run of Object.values(runs)) await run()
        t = await interleaved(runs)
      } finally {
        await logged.close()
        fs.rmSync(logDir, { recursive: true, force: true })
      }
      const { ours, oursLogged } = t
      const ssh = opensshBest(t.sshDefault, t.sshGcm)
      const ratio = ours.median / ssh.best.s
      const ratioLogged = oursLogged.median / ssh.best.s
      const sec = (x: number) => `${x.toFixed(2)} s`
      rows.push({
        id: 3,
        item: `3. ingest \`${JOB_COMMAND.ingest}\` until exit (OpenSSH over a ControlMaster)`, ours: `${sec(ours.median)} (log mirror: ${sec(oursLogged.median)})`,
        openssh: opensshCell(ssh, sec), ratio: `${ratio.toFixed(2)}× (${ratioLogged.toFixed(2)}×)`,
        target: "≤ 1.2× (≤ 1.6× log mirror)", met: ratio <= 1.2 && ratioLogged <= 1.6,
        data: {
          ours_s: ours.median, ours_log_s: oursLogged.median, openssh_s: ssh.best.s, openssh_cipher: ssh.best.cipher,
          openssh_default_s: ssh.byDefault.median, openssh_gcm_s: ssh.gcm.median, load: load(),
          samples: `ours ${fmtSamples(ours.samples)}; log ${fmtSamples(oursLogged.samples)}; ssh ${fmtSamples(ssh.byDefault.samples)}; ssh gcm ${fmtSamples(ssh.gcm.samples)}`
        }
      })
    }

    if (want(4)) {
      // 4. raw stream of 1 GB
      log(`raw: ${JOB_COMMAND.raw}, ${RUNS} runs each`)
      const [byDefault, gcm] = [await muxOf("default"), await muxOf(GCM)]
      const t = await interleaved({
        ours: async () => {
          const t0 = now()
          const raw = await call(server, "ssh_spawn", { command: JOB_COMMAND.raw })
          await waitEnd(server, raw.data.job_id as string)
          const s = (now() - t0) / 1000
          await call(server, "ssh_remove_job", { job_id: raw.data.job_id })
          return s
        },
        sshDefault: opensshRun(sshd, byDefault, JOB_COMMAND.raw),
        sshGcm: opensshRun(sshd, gcm, JOB_COMMAND.raw)
      })
      const ours = t.ours
      const ssh = opensshBest(t.sshDefault, t.sshGcm)
      const mbs = (x: number) => `${(1000 / x).toFixed(0)} MB/s`
      const ratio = ssh.best.s / ours.median
      rows.push({
        id: 4,
        item: "4. raw 1 GB through a job (OpenSSH over a ControlMaster)", ours: mbs(ours.median), openssh: opensshCell(ssh, mbs),
        ratio: `${ratio.toFixed(2)}×`, target: "≥ 1.0× OpenSSH", met: ratio >= 1,
        data: {
          ours_s: ours.median, openssh_s: ssh.best.s, openssh_cipher: ssh.best.cipher, openssh_default_s: ssh.byDefault.median,
          openssh_gcm_s: ssh.gcm.median, load: load(),
          samples: `ours ${fmtSamples(ours.samples)}; ssh ${fmtSamples(ssh.byDefault.samples)}; ssh gcm ${fmtSamples(ssh.gcm.samples)}`
        }
      })
    }

    if (want(6)) {
      // 6. one 1 GiB file up and down: ours (sha256 on both ends included) against `sftp` over a
      // ControlMaster (unverified; each cipher, the faster taken), and against what a careful
      // operator does with OpenSSH: `sftp`, then `sha256sum` of the file on both ends (at once)
      log(`file: 1 GiB upload and download × ${RUNS}, and OpenSSH sftp (then sha256sum on both ends) × ${RUNS} with each cipher`)
      const muxes = { default: await muxOf("default"), "aes128-gcm": await muxOf(GCM) }
      const dir = fs.mkdtempSync(path.join(SHM, "mcpssh-bench-file-"))
      const file = path.join(dir, "gib.bin")
      await randomFile(file, 1024)
      const remoteDir = `${SHM}/mcpssh-bench-${process.pid}`
      await sshd.exec(`mkdir -p ${remoteDir} && chown ${sshd.user.name} ${remoteDir}`)
      const batch = path.join(dir, "batch")
      const t: Record<string, Array<number>> = { oursUp: [], oursDown: [], hashUp: [], hashDown: [] }
      const push = (k: string, v: number) => (t[k] ??= []).push(v)
      // Every transfer starts from the same state: its source and no copy left by another.
      // Copies left in /dev/shm (up to 4 GiB: both tools' uploads and downloads of the round
      // before) made the next round's first upload, ours, 2–3 s slower in about half the
      // rounds, with twice the server's CPU, and no other transfer.
      const removeCopies = async () => {
        for (const name of ["back.bin", "ssh-back.bin"]) fs.rmSync(path.join(dir, name), { force: true })
        await sshd.exec(`rm -f ${remoteDir}/gib.bin ${remoteDir}/ssh.bin`)
      }
      try {
        for (let i = 0; i < RUNS; i++) {
          await removeCopies()
          await dropCaches()
          await readBack(file)
          await settle()
          const t6 = now()
          const up = await call(server, "ssh_upload", { local_path: file, remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
          push("oursUp", (now() - t6) / 1000)
          await settle()
          const t6d = now()
          const down = await call(server, "ssh_download", { local_path: path.join(dir, "back.bin"), remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
          push("oursDown", (now() - t6d) / 1000)
          if (up.isError || down.isError || up.data.verified !== true || down.data.verified !== true) throw new Error(`file bench: ${up.text} ${down.text}`)
          for (const [name, mux] of Object.entries(muxes)) {
            await removeCopies()
            fs.writeFileSync(batch, `put ${file} ${remoteDir}/ssh.bin\n`)
            await settle()
            push(`${name}Up`, (await sh("sftp", sftpArgs(sshd, mux, directEndpoint(sshd), batch))).ms / 1000)
            if (name === "default") push("hashUp", await sha256sumBoth(sshd, mux, file, `${remoteDir}/ssh.bin`))
            fs.writeFileSync(batch, `get ${remoteDir}/ssh.bin ${path.join(dir, "ssh-back.bin")}\n`)
            await settle()
            push(`${name}Down`, (await sh("sftp", sftpArgs(sshd, mux, directEndpoint(sshd), batch))).ms / 1000)
            if (name === "default") push("hashDown", await sha256sumBoth(sshd, mux, path.join(dir, "ssh-back.bin"), `${remoteDir}/ssh.bin`))
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
        await sshd.exec(`rm -rf ${remoteDir}`)
      }
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]))
      const sshUp = Math.min(m.defaultUp!, m["aes128-gcmUp"]!)
      const sshDown = Math.min(m.defaultDown!, m["aes128-gcmDown"]!)
      const carefulUp = sshUp + m.hashUp!
      const carefulDown = sshDown + m.hashDown!
      const gib = 1024
      const rate = (s: number) => (gib / s).toFixed(0)
      const [rUp, rDown, cUp, cDown] = [sshUp / m.oursUp!, sshDown / m.oursDown!, carefulUp / m.oursUp!, carefulDown / m.oursDown!]
      rows.push({
        id: 6,
        item: `6. one 1 GiB file upload / download (ours incl. sha256 both ends; medians of ${RUNS})`,
        ours: `${rate(m.oursUp!)} / ${rate(m.oursDown!)} MiB/s`,
        openssh: `sftp ${rate(sshUp)} / ${rate(sshDown)} MiB/s (faster of default ${rate(m.defaultUp!)} / ${rate(m.defaultDown!)} and aes128-gcm ${
          rate(m["aes128-gcmUp"]!)} / ${rate(m["aes128-gcmDown"]!)}); sftp then sha256sum both ends ${rate(carefulUp)} / ${rate(carefulDown)} MiB/s`,
        ratio: `${rUp.toFixed(2)}× / ${rDown.toFixed(2)}× sftp; ${cUp.toFixed(2)}× / ${cDown.toFixed(2)}× sftp + sha256sum`,
        target: "≥ 0.8× sftp, ≥ 1.0× sftp + sha256sum",
        met: rUp >= 0.8 && rDown >= 0.8 && cUp >= 1 && cDown >= 1,
        data: {
          ours_up_s: m.oursUp!, ours_down_s: m.oursDown!, sftp_up_s: sshUp, sftp_down_s: sshDown, hash_up_s: m.hashUp!, hash_down_s: m.hashDown!,
          sftp_default_up_s: m.defaultUp!, sftp_default_down_s: m.defaultDown!, sftp_gcm_up_s: m["aes128-gcmUp"]!, sftp_gcm_down_s: m["aes128-gcmDown"]!,
          load: load(), samples: JSON.stringify(t)
        }
      })
    }

    if (want(11)) {
      // 11. a tree of 10 000 small files (1–8 KiB): ours with per-file sha256 on both ends; scp -r and sftp -r over a ControlMaster, each cipher, the fastest; medians of 3
      log("tree: 10 000 files of 1–8 KiB up and down × 3, and OpenSSH scp -r / sftp -r × 3 with each cipher")
      await dropCaches()
      const runs = 3
      const med = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-tree-"))
      const tree = path.join(dir, "tree")
      const treeBytes = smallTree(tree, 10_000, 100)
      const remoteDir = `/tmp/mcpssh-bench-${process.pid}`
      await sshd.exec(`mkdir -p ${remoteDir} && chown ${sshd.user.name} ${remoteDir}`)
      const batch = path.join(dir, "batch")
      const muxes = { default: await muxOf("default"), "aes128-gcm": await muxOf(GCM) }
      const dest = `${sshd.user.name}@127.0.0.1`
      const t: Record<string, Array<number>> = { oursUp: [], oursDown: [] }
      const push = (k: string, v: number) => (t[k] ??= []).push(v)
      for (let i = 0; i < runs; i++) {
        await sshd.exec(`rm -rf ${remoteDir}/ours ${remoteDir}/scp ${remoteDir}/sftp`)
        fs.rmSync(path.join(dir, "back"), { recursive: true, force: true })
        // Each round from the same state: the last round's 100 000 created and removed files
        // out of the kernel's caches, the tree read back in for every client alike.
        await dropCaches()
        await readBack(tree)
        await settle()
        const t0 = now()
        const up = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remoteDir}/ours` }, { timeout: 600_000 })
        push("oursUp", (now() - t0) / 1000)
        await settle()
        const t1 = now()
        const down = await call(server, "ssh_download", { local_path: path.join(dir, "back", "ours"), remote_path: `${remoteDir}/ours` }, { timeout: 600_000 })
        push("oursDown", (now() - t1) / 1000)
        if (up.isError || down.isError || up.data.files_count !== 10_000 || down.data.verified !== true) throw new Error(`tree bench: ${up.text.slice(0, 500)} ${down.text.slice(0, 500)}`)
        for (const [name, mux] of Object.entries(muxes)) {
          await sshd.exec(`rm -rf ${remoteDir}/scp ${remoteDir}/sftp`)
          fs.rmSync(path.join(dir, "back", "scp"), { recursive: true, force: true })
          fs.rmSync(path.join(dir, "back", "sftp"), { recursive: true, force: true })
          await settle()
          push(`scp-${name}Up`, (await sh("scp", ["-q", ...mux.options, "-r", "-P", String(sshd.port), tree, `${dest}:${remoteDir}/scp`])).ms / 1000)
          await settle()
          push(`scp-${name}Down`, (await sh("scp", ["-q", ...mux.options, "-r", "-P", String(sshd.port), `${dest}:${remoteDir}/scp`, path.join(dir, "back", "scp")])).ms / 1000)
          fs.writeFileSync(batch, `put -r ${tree} ${remoteDir}/sftp\n`)
          await settle()
          push(`sftp-${name}Up`, (await sh("sftp", sftpArgs(sshd, mux, directEndpoint(sshd), batch))).ms / 1000)
          fs.writeFileSync(batch, `get -r ${remoteDir}/sftp ${path.join(dir, "back", "sftp")}\n`)
          await settle()
          push(`sftp-${name}Down`, (await sh("sftp", sftpArgs(sshd, mux, directEndpoint(sshd), batch))).ms / 1000)
        }
      }
      const check = await sshd.exec(`find ${remoteDir}/scp ${remoteDir}/sftp -type f | wc -l`)
      if (Number(check.stdout.trim()) !== 20_000) throw new Error(`tree bench: OpenSSH copies hold ${check.stdout.trim()} files, not 20000`)
      fs.rmSync(dir, { recursive: true, force: true })
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, med(v)]))
      const best = (dirn: "Up" | "Down") => Object.entries(m).filter(([k]) => !k.startsWith("ours") && k.endsWith(dirn)).sort((a, b) => a[1] - b[1])[0]!
      const [upName, sshUp] = best("Up")
      const [downName, sshDown] = best("Down")
      rows.push({
        id: 11,
        item: `11. tree of 10 000 files, 1–8 KiB (${(treeBytes / 2 ** 20).toFixed(0)} MiB) upload / download (ours incl. per-file sha256 both ends; medians of 3)`,
        ours: `${m.oursUp!.toFixed(2)} / ${m.oursDown!.toFixed(2)} s`,
        openssh: `${sshUp.toFixed(2)} / ${sshDown.toFixed(2)} s (fastest: ${upName.replace(/Up$/, "")} / ${downName.replace(/Down$/, "")})`,
        ratio: `${(sshUp / m.oursUp!).toFixed(2)}× / ${(sshDown / m.oursDown!).toFixed(2)}×`, target: "≥ 1.0× the faster of scp -r, sftp -r",
        met: sshUp / m.oursUp! >= 1 && sshDown / m.oursDown! >= 1,
        data: { ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`${k}_s`, v])), load: load(), samples: JSON.stringify(t) }
      })
    }
    if (want(7)) {
      // 7. scale: each run on a fresh server, so its peak RSS is this run's
      log(`scale: 100 concurrent jobs × 100 000 lines, ${RUNS} runs`)
      const scaleRuns: Array<{ seconds: number; exitedOk: number; failed: number; peak: number }> = []
      for (let run = 0; run < RUNS; run++) {
        const srv = await startMcpServer({ args: serverArgs(sshd, ["--max-jobs-per-host", "200"]), ...serverEnv })
        try {
          await call(srv, "ssh_exec", { command: "true" })
          const t7 = now()
          const ids = await Promise.all(Array.from({ length: 100 }, () => call(srv, "ssh_spawn", { command: "seq 1 100000" })))
          const failed = ids.filter((r) => r.isError).length
          let peak = rssMb(srv.pid, "VmRSS")
          const sampler = setInterval(() => {
            peak = Math.max(peak, rssMb(srv.pid, "VmRSS"))
          }, 50)
          const ends = await Promise.all(ids.filter((r) => !r.isError).map((r) => waitEnd(srv, r.data.job_id as string)))
          clearInterval(sampler)
          scaleRuns.push({
            seconds: (now() - t7) / 1000,
            exitedOk: ends.filter((e) => e.exit_status === 0).length,
            failed,
            peak: Math.max(peak, rssMb(srv.pid, "VmHWM"))
          })
        } finally {
          await srv.close()
        }
      }
      const seconds = median(scaleRuns.map((r) => r.seconds))
      const peak = median(scaleRuns.map((r) => r.peak))
      const exitedOk = Math.min(...scaleRuns.map((r) => r.exitedOk))
      const failed = Math.max(...scaleRuns.map((r) => r.failed))
      rows.push({
        id: 7,
        item: "7. 100 jobs × 100 000 lines",
        ours: `${seconds.toFixed(2)} s, ${exitedOk}/100 exited 0${failed > 0 ? `, ${failed} failed to start` : ""}; peak RSS ${peak.toFixed(0)} MB`,
        openssh: "—", ratio: "—", target: "peak RSS < 200 MB", met: peak < 200 && exitedOk === 100,
        data: { seconds, exited_ok: exitedOk, peak_rss_mb: peak, samples: `peak MB ${fmtSamples(scaleRuns.map((r) => r.peak), 0)}; s ${fmtSamples(scaleRuns.map((r) => r.seconds))}` }
      })
    }

    if (want(10)) {
      // 10. ssh_tail of 10 000 buffered lines: reply time
      log("tail: 10 000 buffered lines in one ssh_tail, 30 replies")
      const j = await call(server, "ssh_spawn", { command: "seq -f 'line %g: the quick brown fox jumps over the lazy dog' 1 10000" })
      await waitEnd(server, j.data.job_id as string)
      const replyMs: Array<number> = []
      for (let i = 0; i < 33; i++) {
        const t0 = now()
        const r = await call(server, "ssh_tail", { job_id: j.data.job_id, since_line_no: 0, max_lines: 10_000, max_bytes: 1_048_576 })
        const t = now() - t0
        if (tailLines(r.data).length !== 10_000) throw new Error(`tail bench: ${tailLines(r.data).length} lines`)
        if (i >= 3) replyMs.push(t) // the first replies warm up the code paths
      }
      await call(server, "ssh_remove_job", { job_id: j.data.job_id })
      rows.push({
        id: 10,
        item: "10. `ssh_tail` of 10 000 buffered lines (p50 / p99)", ours: `${ms(pct(replyMs, 50))} / ${ms(pct(replyMs, 99))}`,
        openssh: "—", ratio: "—", target: "p50 < 20 ms", met: pct(replyMs, 50) < 20,
        data: { p50: pct(replyMs, 50), p99: pct(replyMs, 99), samples: replyMs.length }
      })
    }

    // 8. tools/list size
    if (want(8)) {
      log("tools/list size")
      const { json } = await rawToolsList()
      const bytes = Buffer.byteLength(json)
      const tools = (JSON.parse(json) as { tools: Array<unknown> }).tools.length
      rows.push({
        id: 8,
        item: `8. tools/list size (${tools} tools)`, ours: `${bytes} B, ~${Math.round(bytes / 4)} tokens (bytes/4)`, openssh: "—",
        ratio: "—", target: `≤ ${(1250 * tools).toLocaleString("en").replace(/,/g, " ")} B (1 250 per tool)`, met: bytes <= 1250 * tools, data: { bytes, tokens_approx: Math.round(bytes / 4), tools }
      })
    }

    // 9. agent turns: follow a slow job (the issue's 90 lines over 90 s with wait_ms 30000, 30× faster)
    if (want(9)) {
      log("agent turns: follow a 30-line, 3 s job with wait_ms 1000, by default and with min_lines 1")
      const byDefault = await follow(server, (await call(server, "ssh_spawn", { command: metronome(30, 100) })).data.job_id as string, { wait_ms: 1000 })
      const perLine = await follow(server, (await call(server, "ssh_spawn", { command: metronome(30, 100) })).data.job_id as string, { wait_ms: 1000, min_lines: 1 })
      rows.push({
        id: 9,
        item: "9. follow 30 lines / 3 s, wait_ms 1000",
        ours: `${byDefault.calls} calls, ${byDefault.bytes} B (min_lines 1: ${perLine.calls} calls, ${perLine.bytes} B)`,
        openssh: "—", ratio: "—", target: "≤ 5 calls, 30 lines",
        met: byDefault.calls <= 5 && byDefault.lines === 30,
        data: { calls: byDefault.calls, bytes: byDefault.bytes, lines: byDefault.lines, calls_min_lines_1: perLine.calls, bytes_min_lines_1: perLine.bytes }
      })
    }

    // 12. agent trial: eleven everyday ops tasks by a scripted agent through an SDK 1.x client
    if (want(12)) {
      const label = process.env.BENCH_TRIAL_LABEL ?? "after"
      log(`agent trial (${label}): eleven tasks through an SDK 1.x client`)
      const trial = await agentTrial(sshd, serverArgs(sshd))
      const stored = fs.existsSync(TRIAL_FILE) ? JSON.parse(fs.readFileSync(TRIAL_FILE, "utf8")) as Record<string, TrialRun> : {}
      stored[label] = { date: new Date().toISOString(), ...trial }
      fs.writeFileSync(TRIAL_FILE, JSON.stringify(stored, null, 2) + "\n")
      writeTrialTable(stored)
      const sum = trialSums(trial)
      const before = label === "before" ? undefined : stored.before
      const share = before === undefined ? undefined : sum.sc / trialSums(before).sc
      rows.push({
        id: 12,
        item: "12. agent trial: 11 ops tasks, SDK 1.x client (structuredContent bytes; see Agent trial)",
        ours: `${sum.ok}/11 ok, ${sum.calls} calls, ${kb(sum.sc)} (text ${kb(sum.text)}), largest ${kb(sum.max)}, ${sum.seconds.toFixed(0)} s` +
          (share === undefined ? "" : `; ${(100 * share).toFixed(0)} % of before's bytes`),
        openssh: "—", ratio: "—", target: "every result ≤ 16 KiB, ≤ 25 % of before's bytes, no task fails",
        met: sum.ok === 11 && sum.max <= 16_384 && (share === undefined || share <= 0.25),
        data: { label, ok: sum.ok, calls: sum.calls, sc_bytes: sum.sc, text_bytes: sum.text, max_sc: sum.max, seconds: sum.seconds, ...(share === undefined ? {} : { share_of_before: share }) }
      })
    }

    // 13–17 (and 18–22, named only): across a long link, through a delaying proxy
    for (const set of WAN_SETS) {
      if (set.ids.some(want)) rows.push(...await wanRows(sshd, set, want, serverEnv))
    }
  } finally {
    for (const mux of muxes.values()) mux.close()
    await server.close()
    await sshd.exec(`rm -rf /tmp/mcpssh-bench-${process.pid} ${SHM}/mcpssh-bench-${process.pid}`)
    await sshd.stop()
  }

  const finished = new Date().toISOString()
  const machine = { ...info, date: finished, load_avg_1m_start: loadStart, load_avg_1m_end: os.loadavg()[0]! }
  const measured = rows.map((r) => ({ ...r, date: finished }))
  const widths = [44, 44, 30, 12, 18, 5]
  const line = (cells: Array<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")
  process.stdout.write(`${line(["measurement", "mcp-ssh-live", "OpenSSH", "ratio", "target", "met"])}\n`)
  for (const r of measured) process.stdout.write(`${line([r.item, r.ours, r.openssh, r.ratio, r.target, metText(r)])}\n`)
  process.stdout.write(`\n${machineText(machine)}; ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`)
  // Rows of this run replace the same rows of earlier runs; the others are kept with their dates.
  const out = new URL("results/latest.json", import.meta.url)
  const stored = fs.existsSync(out)
    ? JSON.parse(fs.readFileSync(out, "utf8")) as { machine?: { date?: string }; rows?: Array<Omit<Row, "id"> & { id?: number }> }
    : {}
  // Rows written before rows had an id or a date: the number in the item, the file's date.
  const previous: Array<Row> = (stored.rows ?? []).map((r) => ({
    ...r,
    id: r.id ?? Number(/^(\d+)\./.exec(r.item)?.[1] ?? NaN),
    date: r.date ?? stored.machine?.date ?? ""
  }))
  const merged = [...previous.filter((r) => !Number.isNaN(r.id) && !measured.some((m) => m.id === r.id)), ...measured]
    .sort((x, y) => x.id - y.id)
  fs.writeFileSync(out, JSON.stringify({ machine, rows: merged }, null, 2) + "\n")
  log(`wrote ${out.pathname}`)
  writeDocsTable(machine, merged)
}

const TRIAL_FILE = new URL("results/agent-trial.json", import.meta.url)
type TrialRun = TrialResult & { readonly date: string }
const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`
const trialSums = (t: TrialResult) => ({
  ok: t.tasks.filter((x) => x.ok).length,
  calls: t.tasks.reduce((a, x) => a + x.calls, 0),
  sc: t.tasks.reduce((a, x) => a + x.sc_bytes, 0),
  text: t.tasks.reduce((a, x) => a + x.text_bytes, 0),
  max: Math.max(...t.tasks.map((x) => x.max_sc)),
  seconds: t.tasks.reduce((a, x) => a + x.seconds, 0)
})

const TRIAL_BEGIN = "<!-- bench:trial:begin (written by npm run bench -- 12; do not edit) -->"
const TRIAL_END = "<!-- bench:trial:end -->"

/** The agent trial's per-task table in docs/BENCHMARKS.md: each stored run (before, after) side by side. */
const writeTrialTable = (runs: Record<string, TrialRun>) => {
  const doc = new URL("../docs/BENCHMARKS.md", import.meta.url)
  const text = fs.readFileSync(doc, "utf8")
  const a = text.indexOf(TRIAL_BEGIN)
  const b = text.indexOf(TRIAL_END)
  if (a < 0 || b < a) return log("docs/BENCHMARKS.md has no agent-trial markers: table not written")
  const labels = ["before", "after", ...Object.keys(runs).filter((l) => l !== "before" && l !== "after")].filter((l) => runs[l] !== undefined)
  const cell = (s: string) => s.replace(/\|/g, "\\|")
  // Notes as codes, each once (latest.json and agent-trial.json keep the messages).
  const notes = (t: TaskResult) => [...new Set(t.notes.split("; ").filter((n) => n !== "").map((n) => n.replace(/ → ([A-Z_]+):.*$/, " → $1")))].join("; ")
  const one = (t: TaskResult | undefined) =>
    t === undefined ? "—" : `${t.ok ? "ok" : "FAILED"}, ${t.calls} calls, ${kb(t.sc_bytes)} (text ${kb(t.text_bytes)}), largest ${kb(t.max_sc)}, ${t.seconds.toFixed(1)} s${notes(t) === "" ? "" : `; ${notes(t)}`}`
  const tasks = runs[labels[0]!]!.tasks.map((t) => t.task)
  const lines = [
    `| task | ${labels.map((l) => `${l} (${runs[l]!.date.slice(0, 10)})`).join(" | ")} |`,
    `|---|${labels.map(() => "---").join("|")}|`,
    ...tasks.map((task) => `| ${cell(task)} | ${labels.map((l) => cell(one(runs[l]!.tasks.find((t) => t.task === task)))).join(" | ")} |`),
    `| **all** | ${labels.map((l) => {
      const s = trialSums(runs[l]!)
      return `**${s.ok}/11 ok, ${s.calls} calls, ${kb(s.sc)} (text ${kb(s.text)}), largest ${kb(s.max)}, ${s.seconds.toFixed(0)} s**`
    }).join(" | ")} |`,
    `| 500 lines × 40 B (20 000 B): ssh_tail / ssh_exec structuredContent | ${labels.map((l) => {
      const r = runs[l]!.ratio
      return `${r.tail_bytes} B (${r.tail.toFixed(2)}×) / ${r.exec_bytes} B (${r.exec.toFixed(2)}×)`
    }).join(" | ")} |`
  ]
  fs.writeFileSync(doc, `${text.slice(0, a + TRIAL_BEGIN.length)}\n${lines.join("\n")}\n${text.slice(b)}`)
  log(`wrote the agent trial's table in ${doc.pathname}`)
}

const metText = (r: Row) => (r.met === null ? "n/a" : r.met ? "yes" : "NO")

/** Versions and the negotiated ciphers: what the figures depend on. */
const machineInfo = async (sshd: Sshd) => {
  const run = (cmd: string, args: Array<string>) =>
    new Promise<string>((resolve) => execFile(cmd, args, (_e, out, err) => resolve(`${out}${err}`.trim())))
  const osName = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.existsSync("/etc/os-release") ? fs.readFileSync("/etc/os-release", "utf8") : "")?.[1] ?? os.platform()
  const verbose = await run("ssh", [...sshArgs(sshd, ["-v"]), "true"])
  const opensshCipher = /kex: server->client cipher: (\S+)/.exec(verbose)?.[1] ?? "?"
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "",
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: osName,
    openssh: (await run("ssh", ["-V"])).split("\n")[0]!,
    openssl: (await run("openssl", ["version"])).split("\n")[0]!,
    node_openssl: process.versions.openssl ?? "",
    ssh2_native_crypto: ssh2Crypto.bindingAvailable === true,
    our_cipher: await ourCipher(sshd),
    openssh_default_cipher: opensshCipher
  }
}

type Machine = Awaited<ReturnType<typeof machineInfo>> & { date: string; load_avg_1m_start: number; load_avg_1m_end: number }

const machineText = (m: Machine) =>
  `${m.cpus} × ${m.cpu}, ${m.memory_gb} GB, ${m.os}, Node ${m.node} (OpenSSL ${m.node_openssl}), ${m.openssh}; ` +
  `cipher negotiated: ours ${m.our_cipher} (ssh2 native crypto binding ${m.ssh2_native_crypto ? "loaded" : "NOT loaded: Node's crypto"}), ` +
  `OpenSSH default ${m.openssh_default_cipher}; load average ${m.load_avg_1m_start.toFixed(1)} → ${m.load_avg_1m_end.toFixed(1)}`

/** The cipher ssh2 negotiates with the bench's sshd when offered our default algorithm lists (as the server does). */
const ourCipher = (sshd: Sshd) =>
  new Promise<string>((resolve) => {
    const client = new ssh2.Client()
    client.on("handshake", (n: { cs: { cipher: string }; sc: { cipher: string } }) => {
      resolve(n.sc.cipher)
      client.end()
    })
    client.on("error", (e) => resolve(`? (${e.message})`))
    client.connect({
      host: "127.0.0.1", port: sshd.port, username: sshd.user.name, privateKey: fs.readFileSync(sshd.clientKeyPath),
      algorithms: ssh2Algorithms(defaultAlgorithms, []), hostVerifier: () => true
    })
  })

const BEGIN = "<!-- bench:results:begin (written by npm run bench; do not edit) -->"
const END = "<!-- bench:results:end -->"

/** Replaces the results table in docs/BENCHMARKS.md. */
const writeDocsTable = (m: Machine, rows: ReadonlyArray<Row>) => {
  const doc = new URL("../docs/BENCHMARKS.md", import.meta.url)
  const text = fs.readFileSync(doc, "utf8")
  const a = text.indexOf(BEGIN)
  const b = text.indexOf(END)
  if (a < 0 || b < a) return log(`docs/BENCHMARKS.md has no bench markers: table not written`)
  const cell = (s: string) => s.replace(/\|/g, "\\|")
  const day = (iso: string | undefined) => (iso ?? "").slice(0, 10)
  const table = [
    `Generated ${m.date.slice(0, 16).replace("T", " ")} UTC on ${machineText(m)}.`,
    `Medians of ${RUNS} runs for timed figures; the OpenSSH column is the faster of its default cipher and aes128-gcm (the other in brackets).`,
    "",
    "| measurement | mcp-ssh-live | OpenSSH | ratio | target | met | measured |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${[r.item, r.ours, r.openssh, r.ratio, r.target, metText(r), day(r.date)].map(cell).join(" | ")} |`)
  ].join("\n")
  fs.writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n${table}\n${text.slice(b)}`)
  log(`wrote ${doc.pathname}`)
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
