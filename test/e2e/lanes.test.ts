/**
 * Single large files uploaded and downloaded over several channels at once across a long link
 * (issue 26, item 3; src/transfers/rangeUpload.ts, rangeDownload.ts): through a proxy that
 * delays each direction (the bench's bench/wanProxy.ts), the server sees a 40 ms round trip and
 * splits the file over lanes. Verified as a whole on both ends, mode kept, the single-file
 * rules kept; a cancel leaves nothing on either side, a lying hasher or lanes whose bytes
 * differ from the file fail verification and replace nothing; with few sessions per
 * connection and jobs running, the lanes share the host's channels (more connections are
 * opened) and the jobs go on.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { startWanProxy, type WanProxy } from "../../bench/wanProxy.js"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"
import { fakeBin, pathWith } from "../support/transferBox.js"

const MiB = 1024 * 1024
const ONE_WAY_MS = 20

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")

interface FarBox {
  sshd: Sshd
  proxy: WanProxy
  server: McpServerProcess
  local: string
  remote: string
}

/** An MCP server that reaches the sshd through the delaying proxy, with debug logs (which say when lanes are used). */
const farBox = (getSshd: () => Sshd, name: string): FarBox => {
  const s = {} as FarBox
  beforeAll(async () => {
    s.sshd = getSshd()
    s.proxy = await startWanProxy(s.sshd.port, ONE_WAY_MS)
    s.local = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `mcpssh-${name}-`)))
    s.remote = `/tmp/mcpssh-${name}-${randomBytes(4).toString("hex")}`
    await s.sshd.exec(`mkdir -p ${s.remote} && chown ${s.sshd.user.name} ${s.remote}`)
    const knownHosts = path.join(s.local, "known_hosts")
    fs.writeFileSync(knownHosts, fs.readFileSync(s.sshd.knownHostsPath, "utf8").replace(`]:${s.sshd.port} `, `]:${s.proxy.port} `))
    s.server = await startMcpServer({
      args: ["--known-hosts", knownHosts, "--host", `box=127.0.0.1:${s.proxy.port}`, "--user", s.sshd.user.name, "--key", s.sshd.clientKeyPath, "--log-level", "debug"]
    })
  })
  afterAll(async () => {
    await s.server?.close()
    await s.proxy?.close()
    await s.sshd?.exec(`rm -rf ${s.remote}`)
    fs.rmSync(s.local, { recursive: true, force: true })
  })
  return s
}

const remoteTemps = (s: FarBox) => s.sshd.exec(`find ${s.remote} -mindepth 1 -name '*mcpssh-*'`).then((r) => r.stdout)
/** Lanes counted in the server's log so far. */
const laneUploads = (s: FarBox) => [...s.server.stderr().matchAll(/uploading .* over (\d+) lanes/g)].map((m) => Number(m[1]))
const laneDownloads = (s: FarBox) => [...s.server.stderr().matchAll(/downloading .* over (\d+) lanes/g)].map((m) => Number(m[1]))
/** Per transfer over lanes in the server's log so far: whether its round trip was known before (the lanes opened with the hasher). */
const knownBefore = (s: FarBox) => [...s.server.stderr().matchAll(/(?:up|down)loading .* over \d+ lanes, \d+ MiB chunks \(round trip ~\d+ ms(, known before)?\)/g)].map((m) => m[1] !== undefined)
/** Our private download directories (and anything in them) under the local directory. */
const localTemps = (s: FarBox) => (fs.readdirSync(s.local, { recursive: true }) as Array<string>).filter((n) => n.includes("mcpssh-"))
/** Lanes or a hasher of ours still running on the host for `file`. */
const hostReaders = (s: FarBox, file: string) => s.sshd.exec(`pgrep -u ${s.sshd.user.name} -f '${file}' || true`).then((r) => r.stdout.trim())
/** Two jobs that print `word 1` … `word 6` over 3 s, sharing the host's channels with a transfer: their ids. */
const tickingJobs = async (s: FarBox, word: string) => {
  const jobs: Array<string> = []
  for (let i = 0; i < 2; i++) {
    const j = await call(s.server, "ssh_spawn", { command: `for i in 1 2 3 4 5 6; do echo ${word} $i; sleep 0.5; done` })
    expect(j.isError, j.text).toBe(false)
    jobs.push(j.data.job_id as string)
  }
  return jobs
}
/** Each of `tickingJobs`' jobs printed its six lines, none lost. */
const expectTicks = async (s: FarBox, jobs: ReadonlyArray<string>, word: string) => {
  for (const id of jobs) {
    const t = await call(s.server, "ssh_tail", { job_id: id, wait_ms: 20_000, min_lines: 6, format: "lines" })
    expect((t.data.lines as Array<{ text: string }>).map((l) => l.text)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `${word} ${i}`))
  }
}
/** Put `data` at `file` on the host, owned by the test user, with `mode`. */
const hostFile = async (s: FarBox, file: string, data: Buffer, mode = 0o640) => {
  const src = path.join(s.local, `src-${path.basename(file)}`)
  fs.writeFileSync(src, data)
  await s.sshd.exec(`mkdir -p ${path.posix.dirname(file)} && cp ${src} ${file} && chmod ${mode.toString(8)} ${file} && chown ${s.sshd.user.name} ${file}`)
  fs.rmSync(src)
}

const randomFile = (file: string, size: number, mode = 0o600) => {
  const data = randomBytes(size)
  fs.writeFileSync(file, data)
  fs.chmodSync(file, mode)
  return data
}

describeWithSshd("single files over lanes across a long link", (getSshd) => {
  const s = farBox(getSshd, "lanes")

  it("uploads over several channels, verified as a whole on both ends, mode kept, replacing the target, nothing left", async () => {
    for (const size of [24 * MiB + 12_345, 3 * MiB]) {
      const local = path.join(s.local, `f${size}.bin`)
      const data = randomFile(local, size, 0o640)
      const target = `${s.remote}/sub/f${size}.bin`
      await s.sshd.exec(`mkdir -p ${s.remote}/sub && printf old > ${target} && chown -R ${s.sshd.user.name} ${s.remote}/sub`)
      const before = laneUploads(s).length
      const known = knownBefore(s).length
      const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: target }, { timeout: 120_000 })
      expect(up.isError, up.text).toBe(false)
      expect(up.data).toMatchObject({ bytes: size, verified: true, sha256_local: sha(data), sha256_remote: sha(data) })
      expect((await s.sshd.exec(`sha256sum < ${target}; stat -c %a ${target}`)).stdout).toBe(`${sha(data)}  -\n640\n`)
      const lanes = laneUploads(s).slice(before)
      expect(lanes).toHaveLength(1)
      // Adaptive: a few megabytes get no more lanes than they have megabytes.
      expect(lanes[0]).toBeGreaterThanOrEqual(2)
      expect(lanes[0]).toBeLessThanOrEqual(Math.ceil(size / MiB))
      // The first transfer to the host measures the round trip by the hasher's open; the next
      // opens the hasher and the lanes at once, and the hasher creates the file without `go`.
      expect(knownBefore(s).slice(known)).toEqual([known > 0])
    }
    expect(knownBefore(s)).toEqual([false, true])
    expect(await remoteTemps(s)).toBe("")
  })

  it("makes missing directories, and keeps the single-file rules: overwrite false and a directory refuse, nothing left", async () => {
    const local = path.join(s.local, "rules.bin")
    const data = randomFile(local, 4 * MiB)
    const deep = `${s.remote}/new/deeper/rules.bin`
    const made = await call(s.server, "ssh_upload", { local_path: local, remote_path: deep }, { timeout: 60_000 })
    expect(made.data, made.text).toMatchObject({ verified: true })
    expect((await s.sshd.exec(`sha256sum < ${deep}`)).stdout).toBe(`${sha(data)}  -\n`)
    const target = `${s.remote}/rules.bin`
    await s.sshd.exec(`printf old > ${target} && chown ${s.sshd.user.name} ${target}`)
    const refused = await call(s.server, "ssh_upload", { local_path: local, remote_path: target, overwrite: false }, { timeout: 60_000 })
    expect(refused.isError).toBe(true)
    expect(refused.text).toMatch(/exists and overwrite is false/)
    expect((await s.sshd.exec(`cat ${target}`)).stdout).toBe("old")
    await s.sshd.exec(`mkdir -p ${s.remote}/adir && chown ${s.sshd.user.name} ${s.remote}/adir`)
    const dir = await call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/adir` }, { timeout: 60_000 })
    expect(dir.isError).toBe(true)
    expect(dir.text).toMatch(/is a directory/)
    expect(await remoteTemps(s)).toBe("")
  })

  it("a cancelled upload over lanes leaves no temporary file and no lane process on the host, and no target", async () => {
    const local = path.join(s.local, "cancel.bin")
    randomFile(local, 160 * MiB)
    const controller = new AbortController()
    const before = laneUploads(s).length
    const pending = call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/cancel.bin` }, { signal: controller.signal, timeout: 120_000 })
      .catch((e: Error) => e)
    for (let i = 0; i < 500 && (await remoteTemps(s)) === ""; i++) await new Promise((r) => setTimeout(r, 10))
    expect(await remoteTemps(s)).not.toBe("")
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    const lanes = () => s.sshd.exec(`pgrep -u ${s.sshd.user.name} -f 'mcpssh-[0-9a-f]+\\.tmp' || true`).then((r) => r.stdout.trim())
    let left = "x"
    for (let i = 0; i < 100 && left !== ""; i++) {
      left = (await remoteTemps(s)) + (await lanes())
      if (left !== "") await new Promise((r) => setTimeout(r, 100))
    }
    expect(left).toBe("")
    expect((await s.sshd.exec(`test -e ${s.remote}/cancel.bin && echo there`)).stdout).toBe("")
    expect(laneUploads(s).length).toBe(before + 1)
    // Cancelled with its hasher started without `go` (the round trip known): it still removed the file.
    expect(knownBefore(s).at(-1)).toBe(true)
  })

  it("downloads over several channels, byte-exact and verified on both ends, mode kept, replacing the target, nothing left", async () => {
    // Several ranges per lane and a short last one; exactly 3 ranges; a last range of one byte.
    for (const size of [24 * MiB + 12_345, 3 * MiB, MiB + 1]) {
      const data = randomBytes(size)
      const source = `${s.remote}/down/d${size}.bin`
      await hostFile(s, source, data, 0o640)
      const target = path.join(s.local, `d${size}.bin`)
      fs.writeFileSync(target, "old")
      const before = laneDownloads(s).length
      const down = await call(s.server, "ssh_download", { remote_path: source, local_path: target }, { timeout: 120_000 })
      expect(down.isError, down.text).toBe(false)
      expect(down.data).toMatchObject({ bytes: size, verified: true, sha256_local: sha(data), sha256_remote: sha(data) })
      expect(fs.readFileSync(target).equals(data)).toBe(true)
      expect(fs.statSync(target).mode & 0o777).toBe(0o640)
      const lanes = laneDownloads(s).slice(before)
      expect(lanes).toHaveLength(1)
      expect(lanes[0]).toBeGreaterThanOrEqual(2)
      expect(lanes[0]).toBeLessThanOrEqual(Math.ceil(size / MiB))
      // The uploads measured the round trip: the lanes opened with the hasher.
      expect(knownBefore(s).at(-1)).toBe(true)
    }
    expect(localTemps(s)).toEqual([])
  })

  it("a download over lanes keeps the single-file rules: overwrite false refuses, local_roots refuse, nothing written", async () => {
    const source = `${s.remote}/down/rules.bin`
    await hostFile(s, source, randomBytes(4 * MiB))
    const target = path.join(s.local, "rules-down.bin")
    fs.writeFileSync(target, "old")
    const refused = await call(s.server, "ssh_download", { remote_path: source, local_path: target, overwrite: false }, { timeout: 60_000 })
    expect(refused.isError).toBe(true)
    expect(refused.text).toMatch(/exists and overwrite is false/)
    expect(fs.readFileSync(target, "utf8")).toBe("old")
    // The server's own known_hosts file is never written (local_roots, checked before any lane opens).
    const knownHosts = path.join(s.local, "known_hosts")
    const kept = fs.readFileSync(knownHosts, "utf8")
    const denied = await call(s.server, "ssh_download", { remote_path: source, local_path: knownHosts }, { timeout: 60_000 })
    expect(denied.isError).toBe(true)
    expect(denied.data).toMatchObject({ error: { code: "LOCAL_PATH_DENIED" } })
    expect(fs.readFileSync(knownHosts, "utf8")).toBe(kept)
    expect(localTemps(s)).toEqual([])
  })

  it("a cancelled download over lanes leaves no local temporary file, no lane or hasher on the host, and no target", async () => {
    const source = `${s.remote}/down/cancel-down.bin`
    await hostFile(s, source, randomBytes(160 * MiB))
    const target = path.join(s.local, "cancel-down.bin")
    const controller = new AbortController()
    const before = laneDownloads(s).length
    const pending = call(s.server, "ssh_download", { remote_path: source, local_path: target }, { signal: controller.signal, timeout: 120_000 })
      .catch((e: Error) => e)
    // Under way: our private directory holds the file being written.
    for (let i = 0; i < 500 && !localTemps(s).some((n) => n.endsWith("cancel-down.bin")); i++) await new Promise((r) => setTimeout(r, 10))
    expect(localTemps(s).some((n) => n.endsWith("cancel-down.bin"))).toBe(true)
    expect(await hostReaders(s, "cancel-down\\.bin")).not.toBe("")
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    let left = "x"
    for (let i = 0; i < 100 && left !== ""; i++) {
      left = localTemps(s).join(",") + (await hostReaders(s, "cancel-down\\.bin"))
      if (left !== "") await new Promise((r) => setTimeout(r, 100))
    }
    expect(left).toBe("")
    expect(fs.existsSync(target)).toBe(false)
    expect(laneDownloads(s).length).toBe(before + 1)
    // Its lanes opened before the hasher's verdict: closed all the same.
    expect(knownBefore(s).at(-1)).toBe(true)
  })
})

const zero = "0".repeat(64)
const lying = fakeBin({
  // Every digest this host prints is zeros, in OpenSSL's `-r` format.
  openssl: `shift 3; if [ $# -eq 0 ]; then cat > /dev/null; echo "${zero} *stdin"; else for f; do echo "${zero} *$f"; done; fi`
})

describeWithSshd("single files over lanes to a host whose hasher lies", (getSshd) => {
  const s = farBox(getSshd, "lanes-lie")
  afterAll(() => fs.rmSync(lying, { recursive: true, force: true }))

  it("fails with CHECKSUM_MISMATCH; the old target stays and nothing is left", async () => {
    const local = path.join(s.local, "lie.bin")
    randomFile(local, 6 * MiB)
    const target = `${s.remote}/lie.bin`
    await s.sshd.exec(`printf old > ${target} && chown ${s.sshd.user.name} ${target}`)
    const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: target }, { timeout: 60_000 })
    expect(up.isError, up.text).toBe(true)
    expect(up.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect(laneUploads(s).length).toBe(1)
    expect((await s.sshd.exec(`cat ${target}`)).stdout).toBe("old")
    expect(await remoteTemps(s)).toBe("")
  })

  it("a download fails with CHECKSUM_MISMATCH; the old local target stays and no temporary file is left", async () => {
    const source = `${s.remote}/lie-down.bin`
    await hostFile(s, source, randomBytes(6 * MiB))
    const target = path.join(s.local, "lie-down.bin")
    fs.writeFileSync(target, "old")
    const down = await call(s.server, "ssh_download", { remote_path: source, local_path: target }, { timeout: 60_000 })
    expect(down.isError, down.text).toBe(true)
    expect(down.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect(laneDownloads(s).length).toBe(1)
    expect(fs.readFileSync(target, "utf8")).toBe("old")
    expect(localTemps(s)).toEqual([])
  })
}, pathWith(lying))

const corrupt = fakeBin({
  // dd as it is, except that what it reads of a file starts with an X: the lanes' bytes differ from the file the hasher reads.
  dd: `case "$*" in *if=/dev/null*) exec /usr/bin/dd "$@";; esac; /usr/bin/dd "$@" | { head -c 1 >/dev/null; printf X; cat; }`
})

describeWithSshd("single files over lanes from a host whose lanes' bytes differ from the file", (getSshd) => {
  const s = farBox(getSshd, "lanes-differ")
  afterAll(() => fs.rmSync(corrupt, { recursive: true, force: true }))

  it("a download fails with CHECKSUM_MISMATCH; the old local target stays and no temporary file is left", async () => {
    // No byte of the file is an X where a range starts: every range the lanes send differs.
    const data = randomBytes(6 * MiB).map((b) => (b === 0x58 ? 0 : b))
    const source = `${s.remote}/differ.bin`
    await hostFile(s, source, Buffer.from(data))
    const target = path.join(s.local, "differ.bin")
    fs.writeFileSync(target, "old")
    const down = await call(s.server, "ssh_download", { remote_path: source, local_path: target }, { timeout: 60_000 })
    expect(down.isError, down.text).toBe(true)
    expect(down.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect(down.text).toContain(`remote ${sha(Buffer.from(data))}`)
    expect(laneDownloads(s).length).toBe(1)
    expect(fs.readFileSync(target, "utf8")).toBe("old")
    expect(localTemps(s)).toEqual([])
  })
}, pathWith(corrupt))

describeWithSshd("lanes share the host's channels with jobs", (getSshd) => {
  const s = farBox(getSshd, "lanes-budget")

  it("with MaxSessions 3 and two jobs running, an upload over lanes completes on more connections and the jobs go on", async () => {
    const jobs = await tickingJobs(s, "tick")
    const local = path.join(s.local, "budget.bin")
    const data = randomFile(local, 16 * MiB)
    const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/budget.bin` }, { timeout: 120_000 })
    expect(up.data, up.text).toMatchObject({ verified: true, sha256_remote: sha(data) })
    expect(laneUploads(s)[0]).toBeGreaterThanOrEqual(2)
    expect(s.server.stderr()).toMatch(/opened connection #2/)
    // Again, the round trip known: the hasher and every lane asked for at once, within the same budget.
    const again = await call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/budget-again.bin` }, { timeout: 120_000 })
    expect(again.data, again.text).toMatchObject({ verified: true, sha256_remote: sha(data) })
    expect(knownBefore(s)).toEqual([false, true])
    await expectTicks(s, jobs, "tick")
    expect(await remoteTemps(s)).toBe("")
  })
}, { maxSessions: 3 })

describeWithSshd("download lanes share the host's channels with jobs", (getSshd) => {
  const s = farBox(getSshd, "lanes-budget-down")

  it("with MaxSessions 3 and two jobs running, a download over lanes completes byte-exact and the jobs go on", async () => {
    const jobs = await tickingJobs(s, "tock")
    const data = randomBytes(16 * MiB)
    const source = `${s.remote}/budget-down.bin`
    await hostFile(s, source, data)
    const target = path.join(s.local, "budget-down.bin")
    const down = await call(s.server, "ssh_download", { remote_path: source, local_path: target }, { timeout: 120_000 })
    expect(down.data, down.text).toMatchObject({ verified: true, sha256_local: sha(data) })
    expect(fs.readFileSync(target).equals(data)).toBe(true)
    expect(laneDownloads(s)[0]).toBeGreaterThanOrEqual(2)
    expect(s.server.stderr()).toMatch(/opened connection #2/)
    await expectTicks(s, jobs, "tock")
    expect(localTemps(s)).toEqual([])
  })
}, { maxSessions: 3 })
