/**
 * Benchmarks: mcp-ssh-live against the OpenSSH client, side by side on the same real
 * sshd on loopback, in one run. Prints a table and writes bench/results/latest.json.
 * Not tests: nothing here fails on a missed target; it reports it.
 *
 * Run: npm run bench   (needs root and sshd, like the integration tests)
 *      npm run bench -- 8 9   (only those measurements; writes results/partial.json)
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { call, MAIN, type McpServerProcess, startMcpServer } from "../test/support/mcp.ts"
import { type Sshd, startSshd } from "../test/support/sshdServer.ts"

interface Row {
  readonly item: string
  readonly ours: string
  readonly openssh: string
  readonly ratio: string
  readonly target: string
  readonly met: boolean | null
  readonly data: Record<string, number | string | null>
}

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`)
const ms = (n: number) => `${n.toFixed(1)} ms`
const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const now = () => performance.now()

const sh = (command: string, args: Array<string>) =>
  new Promise<{ ms: number; code: number | null }>((resolve) => {
    const t0 = now()
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "ignore"] })
    child.on("exit", (code) => resolve({ ms: now() - t0, code }))
  })

const sshArgs = (sshd: Sshd, extra: Array<string> = []) => [
  "-i", sshd.clientKeyPath, "-o", `UserKnownHostsFile=${sshd.knownHostsPath}`, "-o", "StrictHostKeyChecking=yes",
  "-o", "BatchMode=yes", "-p", String(sshd.port), ...extra, `${sshd.user.name}@127.0.0.1`
]

/** Wait for a job's end with one blocked tail past every line (no lines are transferred). */
const waitEnd = async (server: McpServerProcess, jobId: string) => {
  for (;;) {
    const r = await call(server, "ssh_tail", { job_id: jobId, since_line_no: Number.MAX_SAFE_INTEGER - 1, wait_ms: 60_000 })
    if (r.data.status !== "running") return r.data
  }
}

const serverArgs = (sshd: Sshd, extra: Array<string> = []) => [
  "--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name,
  "--key", sshd.clientKeyPath, ...extra
]

const rssMb = (pid: number, field: "VmRSS" | "VmHWM") => {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? NaN : Number(m[1]) / 1024
}

/** Measurements to run: `npm run bench -- 8 9` runs only those; none given, all. */
const only = new Set(process.argv.slice(2).map(Number))
const want = (n: number) => only.size === 0 || only.has(n)

/** The JSON text of the `tools/list` result over stdio, as a client receives it. */
const rawToolsList = () =>
  new Promise<string>((resolve, reject) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-home-"))
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home }, stdio: ["pipe", "pipe", "ignore"] })
    const send = (m: object) => child.stdin.write(`${JSON.stringify(m)}\n`)
    let buffer = ""
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString()
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        const m = JSON.parse(buffer.slice(0, i)) as { id?: number; result?: unknown }
        buffer = buffer.slice(i + 1)
        if (m.id === 1) {
          send({ jsonrpc: "2.0", method: "notifications/initialized" })
          send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} })
        } else if (m.id === 2) {
          resolve(JSON.stringify(m.result))
          child.kill()
        }
      }
    })
    child.once("error", reject)
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "0" } } })
  })

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
    lines += (r.data.lines as Array<unknown>).length
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
  const sshd = await startSshd({ maxSessions: 10 })
  const rows: Array<Row> = []
  const server = await startMcpServer({ args: serverArgs(sshd, ["--max-jobs-per-host", "200"]) })
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
        for (const l of r.data.lines as Array<{ text: string }>) wake.push(received - Number(BigInt(l.text) / 1_000_000n))
        cursor = r.data.next_line_no as number
        if (r.data.status !== "running" && (r.data.lines as Array<unknown>).length === 0) break
      }
      rows.push({
        item: "2. tail wake-up: printed → reply (p50 / p99)", ours: `${ms(pct(wake, 50))} / ${ms(pct(wake, 99))}`, openssh: "—",
        ratio: "—", target: "p50 < 5 ms", met: pct(wake, 50) < 5, data: { p50: pct(wake, 50), p99: pct(wake, 99), samples: wake.length }
      })
    }

    if (want(5)) {
      // 5. exec `true` round trip
      log("exec true: 100 calls, and OpenSSH with a ControlMaster socket")
      const execMs: Array<number> = []
      for (let i = 0; i < 100; i++) {
        const t0 = now()
        await call(server, "ssh_exec", { command: "true" })
        execMs.push(now() - t0)
      }
      const control = path.join(os.tmpdir(), `mcpssh-bench-cm-${process.pid}`)
      const master = spawn("ssh", sshArgs(sshd, ["-o", "ControlMaster=yes", "-o", `ControlPath=${control}`, "-N"]), { stdio: "ignore" })
      for (let i = 0; i < 50 && !fs.existsSync(control); i++) await new Promise((r) => setTimeout(r, 100))
      const sshMux: Array<number> = []
      for (let i = 0; i < 100; i++) sshMux.push((await sh("ssh", sshArgs(sshd, ["-o", `ControlPath=${control}`, "true"]))).ms)
      master.kill()
      const sshNew: Array<number> = []
      for (let i = 0; i < 20; i++) sshNew.push((await sh("ssh", [...sshArgs(sshd), "true"])).ms)
      rows.push({
        item: "5. exec `true` on a connected host (p50 / p99)", ours: `${ms(pct(execMs, 50))} / ${ms(pct(execMs, 99))}`,
        openssh: `${ms(pct(sshMux, 50))} / ${ms(pct(sshMux, 99))} (mux); ${ms(pct(sshNew, 50))} new conn.`,
        ratio: `${(pct(execMs, 50) / pct(sshMux, 50)).toFixed(2)}×`, target: "p50 < 15 ms", met: pct(execMs, 50) < 15,
        data: { p50: pct(execMs, 50), p99: pct(execMs, 99), ssh_mux_p50: pct(sshMux, 50), ssh_new_p50: pct(sshNew, 50) }
      })
    }

    if (want(3)) {
      // 3. ingest 10M lines, with and without the log mirror
      log("ingest: seq 1 10000000")
      const ingest = async (srv: McpServerProcess) => {
        const t0 = now()
        const j = await call(srv, "ssh_spawn", { command: "seq 1 10000000" })
        const end = await waitEnd(srv, j.data.job_id as string)
        if (end.exit_status !== 0) throw new Error(`ingest job ended ${JSON.stringify(end)}`)
        return (now() - t0) / 1000
      }
      const oursIngest = await ingest(server)
      const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-logs-"))
      const logged = await startMcpServer({ args: serverArgs(sshd, ["--log-dir", logDir]) })
      let oursIngestLogged: number
      try {
        oursIngestLogged = await ingest(logged)
      } finally {
        await logged.close()
        fs.rmSync(logDir, { recursive: true, force: true })
      }
      const sshIngest = (await sh("sh", ["-c", `ssh ${sshArgs(sshd).map((a) => `'${a}'`).join(" ")} 'seq 1 10000000' > /dev/null`])).ms / 1000
      rows.push({
        item: "3. ingest `seq 1 10000000` until exit", ours: `${oursIngest.toFixed(2)} s (log mirror: ${oursIngestLogged.toFixed(2)} s)`,
        openssh: `${sshIngest.toFixed(2)} s`, ratio: `${(oursIngest / sshIngest).toFixed(2)}× (${(oursIngestLogged / sshIngest).toFixed(2)}×)`,
        target: "≤ 1.5× OpenSSH", met: oursIngest / sshIngest <= 1.5,
        data: { ours_s: oursIngest, ours_log_s: oursIngestLogged, openssh_s: sshIngest }
      })
    }

    if (want(4)) {
      // 4. raw stream of 1 GB
      log("raw: head -c 1000000000 /dev/zero")
      const t4 = now()
      const raw = await call(server, "ssh_spawn", { command: "head -c 1000000000 /dev/zero" })
      await waitEnd(server, raw.data.job_id as string)
      const oursRaw = (now() - t4) / 1000
      const sshRaw = (await sh("sh", ["-c", `ssh ${sshArgs(sshd).map((a) => `'${a}'`).join(" ")} 'head -c 1000000000 /dev/zero' > /dev/null`])).ms / 1000
      rows.push({
        item: "4. raw 1 GB through a job", ours: `${(1000 / oursRaw).toFixed(0)} MB/s`, openssh: `${(1000 / sshRaw).toFixed(0)} MB/s`,
        ratio: `${(sshRaw / oursRaw).toFixed(2)}×`, target: "≥ 0.8× OpenSSH", met: sshRaw / oursRaw >= 0.8,
        data: { ours_s: oursRaw, openssh_s: sshRaw }
      })
    }

    if (want(6)) {
      // 6. SFTP 1 GiB, sha256 on both ends included on our side; OpenSSH sftp (unverified) with its default cipher and aes128-gcm, the faster; medians of 3
      log("sftp: 1 GiB upload and download × 3, and OpenSSH sftp × 3 with each cipher")
      const runs = 3
      const med = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-sftp-"))
      const file = path.join(dir, "gib.bin")
      await new Promise<void>((resolve, reject) => {
        const out = fs.createWriteStream(file)
        let left = 1024
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
      const remoteDir = `/tmp/mcpssh-bench-${process.pid}`
      const batch = path.join(dir, "batch")
      const sftpArgs = (cipher: Array<string>) => ["-q", "-b", batch, "-i", sshd.clientKeyPath, "-o", `UserKnownHostsFile=${sshd.knownHostsPath}`, "-o", "BatchMode=yes",
        ...cipher, "-P", String(sshd.port), `${sshd.user.name}@127.0.0.1`]
      const ciphers = { default: [], "aes128-gcm": ["-c", "aes128-gcm@openssh.com"] }
      const t: Record<string, Array<number>> = { oursUp: [], oursDown: [] }
      for (let i = 0; i < runs; i++) {
        const t6 = now()
        const up = await call(server, "ssh_upload", { local_path: file, remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
        t.oursUp!.push((now() - t6) / 1000)
        fs.rmSync(path.join(dir, "back.bin"), { force: true })
        const t6d = now()
        const down = await call(server, "ssh_download", { local_path: path.join(dir, "back.bin"), remote_path: `${remoteDir}/gib.bin` }, { timeout: 600_000 })
        t.oursDown!.push((now() - t6d) / 1000)
        if (up.isError || down.isError || up.data.verified !== true || down.data.verified !== true) throw new Error(`sftp bench: ${up.text} ${down.text}`)
        for (const [name, cipher] of Object.entries(ciphers)) {
          fs.writeFileSync(batch, `put ${file} ${remoteDir}/ssh.bin\n`)
          ;(t[`${name}Up`] ??= []).push((await sh("sftp", sftpArgs(cipher))).ms / 1000)
          fs.writeFileSync(batch, `get ${remoteDir}/ssh.bin ${path.join(dir, "ssh-back.bin")}\n`)
          ;(t[`${name}Down`] ??= []).push((await sh("sftp", sftpArgs(cipher))).ms / 1000)
        }
      }
      fs.rmSync(dir, { recursive: true, force: true })
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, med(v)]))
      const sshUp = Math.min(m.defaultUp!, m["aes128-gcmUp"]!)
      const sshDown = Math.min(m.defaultDown!, m["aes128-gcmDown"]!)
      const gib = 1024
      rows.push({
        item: "6. SFTP 1 GiB upload / download (ours incl. sha256 both ends; medians of 3)",
        ours: `${(gib / m.oursUp!).toFixed(0)} / ${(gib / m.oursDown!).toFixed(0)} MiB/s`,
        openssh: `${(gib / sshUp).toFixed(0)} / ${(gib / sshDown).toFixed(0)} MiB/s (sftp, faster of default ${(gib / m.defaultUp!).toFixed(0)} / ${(gib / m.defaultDown!).toFixed(0)} and aes128-gcm ${(gib / m["aes128-gcmUp"]!).toFixed(0)} / ${(gib / m["aes128-gcmDown"]!).toFixed(0)})`,
        ratio: `${(sshUp / m.oursUp!).toFixed(2)}× / ${(sshDown / m.oursDown!).toFixed(2)}×`, target: "≥ 1.0× OpenSSH sftp",
        met: sshUp / m.oursUp! >= 1 && sshDown / m.oursDown! >= 1,
        data: {
          ours_up_s: m.oursUp!, ours_down_s: m.oursDown!, sftp_up_s: sshUp, sftp_down_s: sshDown,
          sftp_default_up_s: m.defaultUp!, sftp_default_down_s: m.defaultDown!, sftp_gcm_up_s: m["aes128-gcmUp"]!, sftp_gcm_down_s: m["aes128-gcmDown"]!,
          samples: JSON.stringify(t)
        }
      })
    }

    if (want(10)) {
      // 10. a tree of 10 000 small files (1–8 KiB): ours with per-file sha256 on both ends; scp -r and sftp -r, each cipher, the fastest; medians of 3
      log("tree: 10 000 files of 1–8 KiB up and down × 3, and OpenSSH scp -r / sftp -r × 3 with each cipher")
      const runs = 3
      const med = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bench-tree-"))
      const tree = path.join(dir, "tree")
      let treeBytes = 0
      for (let i = 0; i < 10_000; i++) {
        const f = path.join(tree, `d${i % 100}`, `f${i}.bin`)
        if (i < 100) fs.mkdirSync(path.dirname(f), { recursive: true })
        const size = 1024 + Math.floor(Math.random() * 7 * 1024)
        treeBytes += size
        fs.writeFileSync(f, Buffer.alloc(size, i % 251))
      }
      const remoteDir = `/tmp/mcpssh-bench-${process.pid}`
      await sshd.exec(`mkdir -p ${remoteDir} && chown ${sshd.user.name} ${remoteDir}`)
      const batch = path.join(dir, "batch")
      const opts = (cipher: Array<string>) => ["-q", "-i", sshd.clientKeyPath, "-o", `UserKnownHostsFile=${sshd.knownHostsPath}`, "-o", "BatchMode=yes", ...cipher]
      const ciphers = { default: [], "aes128-gcm": ["-c", "aes128-gcm@openssh.com"] }
      const dest = `${sshd.user.name}@127.0.0.1`
      const t: Record<string, Array<number>> = { oursUp: [], oursDown: [] }
      const push = (k: string, v: number) => (t[k] ??= []).push(v)
      for (let i = 0; i < runs; i++) {
        await sshd.exec(`rm -rf ${remoteDir}/ours ${remoteDir}/scp ${remoteDir}/sftp`)
        fs.rmSync(path.join(dir, "back"), { recursive: true, force: true })
        const t0 = now()
        const up = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remoteDir}/ours` }, { timeout: 600_000 })
        push("oursUp", (now() - t0) / 1000)
        const t1 = now()
        const down = await call(server, "ssh_download", { local_path: path.join(dir, "back", "ours"), remote_path: `${remoteDir}/ours` }, { timeout: 600_000 })
        push("oursDown", (now() - t1) / 1000)
        if (up.isError || down.isError || up.data.files_count !== 10_000 || down.data.verified !== true) throw new Error(`tree bench: ${up.text.slice(0, 500)} ${down.text.slice(0, 500)}`)
        for (const [name, cipher] of Object.entries(ciphers)) {
          await sshd.exec(`rm -rf ${remoteDir}/scp ${remoteDir}/sftp`)
          fs.rmSync(path.join(dir, "back", "scp"), { recursive: true, force: true })
          fs.rmSync(path.join(dir, "back", "sftp"), { recursive: true, force: true })
          push(`scp-${name}Up`, (await sh("scp", [...opts(cipher), "-r", "-P", String(sshd.port), tree, `${dest}:${remoteDir}/scp`])).ms / 1000)
          push(`scp-${name}Down`, (await sh("scp", [...opts(cipher), "-r", "-P", String(sshd.port), `${dest}:${remoteDir}/scp`, path.join(dir, "back", "scp")])).ms / 1000)
          fs.writeFileSync(batch, `put -r ${tree} ${remoteDir}/sftp\n`)
          push(`sftp-${name}Up`, (await sh("sftp", [...opts(cipher), "-b", batch, "-P", String(sshd.port), dest])).ms / 1000)
          fs.writeFileSync(batch, `get -r ${remoteDir}/sftp ${path.join(dir, "back", "sftp")}\n`)
          push(`sftp-${name}Down`, (await sh("sftp", [...opts(cipher), "-b", batch, "-P", String(sshd.port), dest])).ms / 1000)
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
        item: `10. tree of 10 000 files, 1–8 KiB (${(treeBytes / 2 ** 20).toFixed(0)} MiB) upload / download (ours incl. per-file sha256 both ends; medians of 3)`,
        ours: `${m.oursUp!.toFixed(2)} / ${m.oursDown!.toFixed(2)} s`,
        openssh: `${sshUp.toFixed(2)} / ${sshDown.toFixed(2)} s (fastest: ${upName.replace(/Up$/, "")} / ${downName.replace(/Down$/, "")})`,
        ratio: `${(sshUp / m.oursUp!).toFixed(2)}× / ${(sshDown / m.oursDown!).toFixed(2)}×`, target: "≥ 1.0× the faster of scp -r, sftp -r",
        met: sshUp / m.oursUp! >= 1 && sshDown / m.oursDown! >= 1,
        data: { ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`${k}_s`, v])), samples: JSON.stringify(t) }
      })
    }

    if (want(7)) {
      // 7. scale
      log("scale: 100 concurrent jobs × 100 000 lines")
      const t7 = now()
      const ids = await Promise.all(Array.from({ length: 100 }, () => call(server, "ssh_spawn", { command: "seq 1 100000" })))
      const failed = ids.filter((r) => r.isError)
      let peak = rssMb(server.pid, "VmRSS")
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(server.pid, "VmRSS"))
      }, 50)
      const ends = await Promise.all(ids.filter((r) => !r.isError).map((r) => waitEnd(server, r.data.job_id as string)))
      clearInterval(sampler)
      const scaleS = (now() - t7) / 1000
      const exitedOk = ends.filter((e) => e.exit_status === 0).length
      const hwm = rssMb(server.pid, "VmHWM")
      rows.push({
        item: "7. 100 jobs × 100 000 lines", ours: `${scaleS.toFixed(2)} s, ${exitedOk}/100 exited 0${failed.length > 0 ? `, ${failed.length} failed to start` : ""}; peak RSS ${Math.max(peak, hwm).toFixed(0)} MB`,
        openssh: "—", ratio: "—", target: "peak RSS < 300 MB", met: Math.max(peak, hwm) < 300 && exitedOk === 100,
        data: { seconds: scaleS, exited_ok: exitedOk, peak_rss_mb: Math.max(peak, hwm) }
      })
    }

    // 8. tools/list size
    if (want(8)) {
      log("tools/list size")
      const json = await rawToolsList()
      const bytes = Buffer.byteLength(json)
      const tools = (JSON.parse(json) as { tools: Array<unknown> }).tools.length
      rows.push({
        item: `8. tools/list size (${tools} tools)`, ours: `${bytes} B, ~${Math.round(bytes / 4)} tokens (bytes/4)`, openssh: "—",
        ratio: "—", target: "≤ 15 000 B", met: bytes <= 15_000, data: { bytes, tokens_approx: Math.round(bytes / 4), tools }
      })
    }

    // 9. agent turns: follow a slow job (the issue's 90 lines over 90 s with wait_ms 30000, 30× faster)
    if (want(9)) {
      log("agent turns: follow a 30-line, 3 s job with wait_ms 1000, by default and with min_lines 1")
      const byDefault = await follow(server, (await call(server, "ssh_spawn", { command: metronome(30, 100) })).data.job_id as string, { wait_ms: 1000 })
      const perLine = await follow(server, (await call(server, "ssh_spawn", { command: metronome(30, 100) })).data.job_id as string, { wait_ms: 1000, min_lines: 1 })
      rows.push({
        item: "9. follow 30 lines / 3 s, wait_ms 1000",
        ours: `${byDefault.calls} calls, ${byDefault.bytes} B (min_lines 1: ${perLine.calls} calls, ${perLine.bytes} B)`,
        openssh: "—", ratio: "—", target: "≤ 5 calls, 30 lines",
        met: byDefault.calls <= 5 && byDefault.lines === 30,
        data: { calls: byDefault.calls, bytes: byDefault.bytes, lines: byDefault.lines, calls_min_lines_1: perLine.calls, bytes_min_lines_1: perLine.bytes }
      })
    }
  } finally {
    await server.close()
    await sshd.exec(`rm -rf /tmp/mcpssh-bench-${process.pid}`)
    await sshd.stop()
  }

  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "",
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    openssh: await new Promise<string>((resolve) => execFile("ssh", ["-V"], (_e, _o, err) => resolve(err.trim())))
  }
  const widths = [44, 44, 30, 12, 18, 5]
  const line = (cells: Array<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")
  process.stdout.write(`${line(["measurement", "mcp-ssh-live", "OpenSSH", "ratio", "target", "met"])}\n`)
  for (const r of rows) process.stdout.write(`${line([r.item, r.ours, r.openssh, r.ratio, r.target, r.met === null ? "n/a" : r.met ? "yes" : "NO"])}\n`)
  process.stdout.write(`\n${machine.cpus} × ${machine.cpu}, ${machine.memory_gb} GB, Node ${machine.node}, ${machine.openssh}; ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`)
  // A partial run (some measurements only) does not replace the full results.
  const out = new URL(only.size === 0 ? "results/latest.json" : "results/partial.json", import.meta.url)
  fs.writeFileSync(out, JSON.stringify({ machine, rows }, null, 2) + "\n")
  log(`wrote ${out.pathname}`)
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
