/**
 * Bench rows across a long link: our server and the OpenSSH client (over a ControlMaster
 * connection, as ours is connected) both reach the bench's sshd through `wanProxy.ts`,
 * which delays each direction by half the round trip. Round trips are what these rows
 * count: an exec and a spawn in RTTs; transfers, where one SSH channel carries at most its
 * window per round trip; a tree of small files, where a request per file costs a round
 * trip each. OpenSSH with its default cipher only: at these rates the link, not the
 * cipher, sets the pace.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { call, type McpServerProcess, startMcpServer, tailLines } from "../test/support/mcp.ts"
import type { Sshd } from "../test/support/sshdServer.ts"
import {
  type Endpoint, interleaved, load, log, median, ms, muxSsh, now, pct, randomFile, type Row, RUNS, sftpArgs, sh, SHM, smallTree, startMux
} from "./lib.ts"

export interface WanSet {
  /** The round trip the proxy adds (each direction half of it). */
  readonly rttMs: number
  /** Row numbers: exec, spawn → first line, 64 MiB, 1 GiB, tree. */
  readonly ids: readonly [number, number, number, number, number]
  /** Run only when its rows are named (`npm run bench -- 18 19 …`). */
  readonly optional: boolean
}

export const WAN_SETS: ReadonlyArray<WanSet> = [
  { rttMs: 50, ids: [13, 14, 15, 16, 17], optional: false },
  { rttMs: 150, ids: [18, 19, 20, 21, 22], optional: true }
]

/** The proxy in a process of its own (its timers must not wait behind the bench's work). */
const startProxy = (targetPort: number, oneWayMs: number) =>
  new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL("wanProxy.ts", import.meta.url)), String(targetPort), String(oneWayMs)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    child.on("error", reject)
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening (\d+)/.exec(out)
      if (m !== null) resolve({ port: Number(m[1]), stop: () => child.stdin.end() })
    })
    child.on("exit", (code) => reject(new Error(`the WAN proxy exited (${code})`)))
  })

/** Milliseconds from starting `ssh … command` over the mux to its first byte of output (then it is left to end). */
const firstOutput = (args: Array<string>) =>
  new Promise<number>((resolve, reject) => {
    const t0 = now()
    const child = spawn("ssh", args, { stdio: ["ignore", "pipe", "ignore"] })
    let first: number | undefined
    child.stdout.once("data", () => (first = now() - t0))
    child.stdout.resume()
    child.on("exit", () => (first === undefined ? reject(new Error("ssh printed nothing")) : resolve(first)))
  })

/** Ours: from `ssh_spawn` to the reply of the `ssh_tail` that brings the job's first line. */
const spawnToFirstLine = async (server: McpServerProcess) => {
  const t0 = now()
  const s = await call(server, "ssh_spawn", { command: "echo first" })
  for (;;) {
    const r = await call(server, "ssh_tail", { job_id: s.data.job_id, wait_ms: 10_000, max_lines: 1 })
    if (tailLines(r.data).length > 0) {
      const t = now() - t0
      await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
      return t
    }
    if (r.data.status !== "running") throw new Error(`spawn bench: the job ended without a line: ${r.text}`)
  }
}

export const wanRows = async (
  sshd: Sshd,
  set: WanSet,
  want: (id: number) => boolean,
  serverEnv: { env?: Record<string, string> }
): Promise<Array<Row>> => {
  const rtt = set.rttMs
  const [execId, spawnId, smallId, bigId, treeId] = set.ids
  log(`WAN: a proxy adding ${rtt} ms of round trip (${rtt / 2} ms each way)`)
  const proxy = await startProxy(sshd.port, rtt / 2)
  const dir = fs.mkdtempSync(path.join(SHM, "mcpssh-bench-wan-"))
  // The host key, known under the proxy's port too.
  const knownHostsPath = path.join(dir, "known_hosts")
  fs.writeFileSync(knownHostsPath, fs.readFileSync(sshd.knownHostsPath, "utf8").replace(`]:${sshd.port} `, `]:${proxy.port} `))
  const at: Endpoint = { port: proxy.port, knownHostsPath }
  const mux = await startMux(sshd, "default", at)
  const server = await startMcpServer({
    // The transfers read and write under SHM: one of the server's local_roots only when named.
    args: ["--known-hosts", knownHostsPath, "--host", `box=127.0.0.1:${proxy.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath, "--local-root", SHM],
    ...serverEnv
  })
  const remoteDir = `${SHM}/mcpssh-bench-${process.pid}-wan`
  await sshd.exec(`mkdir -p ${remoteDir} && chown ${sshd.user.name} ${remoteDir}`)
  const rows: Array<Row> = []
  const rtts = (x: number) => `${ms(x)} = ${(x / rtt).toFixed(1)} RTT`
  const label = `RTT ${rtt} ms`
  try {
    await call(server, "ssh_exec", { command: "true" })
    await sh("ssh", muxSsh(sshd, mux, at, "true"))

    if (want(execId)) {
      log(`WAN ${rtt} ms: exec true × 20, ours and ssh over the mux`)
      const t = await interleaved({
        ours: async () => {
          const t0 = now()
          await call(server, "ssh_exec", { command: "true" })
          return now() - t0
        },
        ssh: async () => (await sh("ssh", muxSsh(sshd, mux, at, "true"))).ms
      }, 20)
      const [ours, ssh] = [t.ours.median, t.ssh.median]
      rows.push({
        id: execId,
        item: `${execId}. ${label}: exec \`true\` on a connected host (p50)`, ours: rtts(ours), openssh: `${rtts(ssh)} (ssh over the mux)`,
        ratio: `${(ours / ssh).toFixed(2)}×`, target: "≤ OpenSSH's RTTs", met: ours <= ssh,
        data: { rtt_ms: rtt, ours_ms: ours, ssh_ms: ssh, ours_p90: pct([...t.ours.samples], 90), ssh_p90: pct([...t.ssh.samples], 90), load: load() }
      })
    }

    if (want(spawnId)) {
      log(`WAN ${rtt} ms: spawn → first line × 20`)
      const t = await interleaved({
        ours: () => spawnToFirstLine(server),
        ssh: () => firstOutput(muxSsh(sshd, mux, at, "echo first"))
      }, 20)
      const [ours, ssh] = [t.ours.median, t.ssh.median]
      rows.push({
        id: spawnId,
        item: `${spawnId}. ${label}: spawn → first line (p50)`, ours: rtts(ours), openssh: `${rtts(ssh)} (ssh over the mux, to its first byte)`,
        ratio: `${(ours / ssh).toFixed(2)}×`, target: "≤ 3 RTT", met: ours <= 3 * rtt,
        data: { rtt_ms: rtt, ours_ms: ours, ssh_ms: ssh, load: load() }
      })
    }

    for (const [id, mib] of [[smallId, 64], [bigId, 1024]] as const) {
      if (!want(id)) continue
      log(`WAN ${rtt} ms: ${mib} MiB up and down × ${RUNS}, ours and sftp over the mux`)
      const file = path.join(dir, `${mib}.bin`)
      const back = path.join(dir, "back.bin")
      const batch = path.join(dir, "batch")
      await randomFile(file, mib)
      const timeout = 1_800_000
      const t = await interleaved({
        oursUp: async () => {
          const t0 = now()
          const r = await call(server, "ssh_upload", { local_path: file, remote_path: `${remoteDir}/ours.bin` }, { timeout })
          if (r.isError || r.data.verified !== true) throw new Error(`WAN upload: ${r.text}`)
          return (now() - t0) / 1000
        },
        oursDown: async () => {
          fs.rmSync(back, { force: true })
          const t0 = now()
          const r = await call(server, "ssh_download", { local_path: back, remote_path: `${remoteDir}/ours.bin` }, { timeout })
          if (r.isError || r.data.verified !== true) throw new Error(`WAN download: ${r.text}`)
          return (now() - t0) / 1000
        },
        sftpUp: async () => {
          fs.writeFileSync(batch, `put ${file} ${remoteDir}/ssh.bin\n`)
          return (await sh("sftp", sftpArgs(sshd, mux, at, batch))).ms / 1000
        },
        sftpDown: async () => {
          fs.rmSync(back, { force: true })
          fs.writeFileSync(batch, `get ${remoteDir}/ssh.bin ${back}\n`)
          return (await sh("sftp", sftpArgs(sshd, mux, at, batch))).ms / 1000
        }
      })
      fs.rmSync(file, { force: true })
      fs.rmSync(back, { force: true })
      const rate = (s: number) => mib / s
      const [up, down] = [t.sftpUp.median / t.oursUp.median, t.sftpDown.median / t.oursDown.median]
      rows.push({
        id,
        item: `${id}. ${label}: ${mib === 1024 ? "1 GiB" : `${mib} MiB`} upload / download (ours verified, sha256 both ends; sftp unverified)`,
        ours: `${rate(t.oursUp.median).toFixed(1)} / ${rate(t.oursDown.median).toFixed(1)} MiB/s`,
        openssh: `${rate(t.sftpUp.median).toFixed(1)} / ${rate(t.sftpDown.median).toFixed(1)} MiB/s (sftp over the mux)`,
        ratio: `${up.toFixed(2)}× / ${down.toFixed(2)}×`, target: "≥ 3× sftp", met: up >= 3 && down >= 3,
        data: {
          rtt_ms: rtt, ours_up_s: t.oursUp.median, ours_down_s: t.oursDown.median, sftp_up_s: t.sftpUp.median, sftp_down_s: t.sftpDown.median,
          load: load(), samples: JSON.stringify(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.samples])))
        }
      })
    }

    if (want(treeId)) {
      // scp -r pays round trips per file (minutes here): timed once; ours RUNS times.
      log(`WAN ${rtt} ms: a tree of 500 small files up and down × ${RUNS}, and scp -r up once`)
      const tree = path.join(dir, "tree")
      const bytes = smallTree(tree, 500, 10)
      const up: Array<number> = []
      const down: Array<number> = []
      for (let i = 0; i < RUNS; i++) {
        await sshd.exec(`rm -rf ${remoteDir}/tree`)
        fs.rmSync(path.join(dir, "back"), { recursive: true, force: true })
        let t0 = now()
        const u = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remoteDir}/tree` }, { timeout: 600_000 })
        up.push((now() - t0) / 1000)
        t0 = now()
        const d = await call(server, "ssh_download", { local_path: path.join(dir, "back"), remote_path: `${remoteDir}/tree` }, { timeout: 600_000 })
        down.push((now() - t0) / 1000)
        if (u.isError || d.isError || u.data.files_count !== 500 || d.data.verified !== true) throw new Error(`WAN tree: ${u.text.slice(0, 300)} ${d.text.slice(0, 300)}`)
      }
      const t0 = now()
      const scp = await sh("scp", ["-q", ...mux.options, "-r", "-P", String(at.port), tree, `${sshd.user.name}@127.0.0.1:${remoteDir}/scp`])
      const scpS = (now() - t0) / 1000
      if (scp.code !== 0) throw new Error(`WAN tree: scp -r exited ${scp.code}`)
      const [u, d] = [median(up), median(down)]
      rows.push({
        id: treeId,
        item: `${treeId}. ${label}: tree of 500 files, 1–8 KiB (${(bytes / 2 ** 20).toFixed(1)} MiB), upload / download (ours per-file sha256 both ends)`,
        ours: `${u.toFixed(2)} / ${d.toFixed(2)} s`, openssh: `${scpS.toFixed(1)} s upload (scp -r over the mux, one run)`,
        ratio: `${(scpS / u).toFixed(0)}× (upload)`, target: "≥ 1.0× scp -r (keep)", met: u <= scpS,
        data: { rtt_ms: rtt, ours_up_s: u, ours_down_s: d, scp_up_s: scpS, load: load(), samples: JSON.stringify({ up, down }) }
      })
    }
  } finally {
    await server.close()
    mux.close()
    proxy.stop()
    fs.rmSync(dir, { recursive: true, force: true })
    await sshd.exec(`rm -rf ${remoteDir}`)
  }
  return rows
}
