/**
 * The pipelined transfer paths (issue 16): sizes around the request sizes, byte-exact both
 * ways; trees of many files copied concurrently and hashed on the host in one command;
 * interrupted and cancelled tree transfers leaving no temporary file on either side; and the
 * copy loops themselves with odd request sizes against a real sftp-server.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Client, type SFTPWrapper } from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { getFile, putFile } from "../../src/transfers/pipeline.js"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")
const KiB = 1024

/** Every entry under `dir` whose name says it is one of our temporaries. */
const localTemps = (dir: string): Array<string> =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((n) => n.includes("mcpssh-")) : []

describeWithSshd("pipelined transfers", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let local: string
  let remote: string

  const remoteTemps = async (dir: string) => (await sshd.exec(`find ${dir} -mindepth 1 -name '*mcpssh-*' 2>/dev/null || true`)).stdout.trim()
  /** Wait until `probe` holds (a transfer got under way), at most ~10 s. */
  const until = async (probe: () => Promise<boolean> | boolean) => {
    for (let i = 0; i < 200 && !(await probe()); i++) await new Promise((r) => setTimeout(r, 50))
  }
  /** Poll until `f` returns "" / [] (cleanup runs after the reply), at most ~20 s. */
  const settles = async <A extends string | Array<string>>(f: () => Promise<A> | A): Promise<A> => {
    let v = await f()
    for (let i = 0; i < 100 && v.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200))
      v = await f()
    }
    return v
  }

  beforeAll(async () => {
    sshd = getSshd()
    local = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-pipe-")))
    remote = `/tmp/mcpssh-pipe-${randomBytes(4).toString("hex")}`
    await sshd.exec(`mkdir -p ${remote} && chown ${sshd.user.name} ${remote}`)
    server = await startMcpServer({
      args: ["--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath]
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd?.exec(`rm -rf ${remote}`)
    fs.rmSync(local, { recursive: true, force: true })
  })

  const sizes = [0, 1, 32 * KiB - 1, 32 * KiB, 32 * KiB + 1, 255 * KiB - 1, 255 * KiB, 255 * KiB + 1, 16 * 255 * KiB + 3, 5 * 1024 * KiB + 12345]

  it("round-trips files of sizes around the request sizes byte for byte, hashed on both ends", async () => {
    for (const size of sizes) {
      const data = randomBytes(size)
      const file = path.join(local, `s${size}.bin`)
      fs.writeFileSync(file, data)
      const up = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/sizes/s${size}.bin` })
      expect(up.isError, up.text).toBe(false)
      expect(up.data).toMatchObject({ verified: true, bytes: size, sha256_local: sha(data), sha256_remote: sha(data) })
      expect((await sshd.exec(`sha256sum < ${remote}/sizes/s${size}.bin`)).stdout.slice(0, 64), `remote copy of ${size} bytes`).toBe(sha(data))
      const back = path.join(local, "back", `s${size}.bin`)
      const down = await call(server, "ssh_download", { local_path: back, remote_path: `${remote}/sizes/s${size}.bin` })
      expect(down.isError, down.text).toBe(false)
      expect(down.data).toMatchObject({ verified: true, bytes: size, sha256_local: sha(data), sha256_remote: sha(data) })
      expect(fs.readFileSync(back).equals(data), `download of ${size} bytes`).toBe(true)
    }
    expect(await remoteTemps(remote)).toBe("")
    expect(localTemps(local)).toEqual([])
  })

  it("round-trips a tree of 2000 small files with their modes, odd names included", async () => {
    const tree = path.join(local, "tree")
    const modes = [0o644, 0o600, 0o755, 0o640, 0o700]
    const files = new Map<string, { data: Buffer; mode: number }>()
    for (let i = 0; i < 2000; i++) {
      const name = i === 7 ? "new\nline" : i === 8 ? "back\\slash" : i === 9 ? "-dash" : i === 10 ? "sp ace" : `f${i}.bin`
      const rel = path.join(`d${i % 13}`, i % 5 === 0 ? `s${i % 3}` : "", name)
      const data = randomBytes(i % 97 === 0 ? 0 : 1 + Math.floor(Math.random() * 9000))
      fs.mkdirSync(path.join(tree, path.dirname(rel)), { recursive: true })
      fs.writeFileSync(path.join(tree, rel), data)
      fs.chmodSync(path.join(tree, rel), modes[i % modes.length]!)
      files.set(rel, { data, mode: modes[i % modes.length]! })
    }
    const up = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/tree` }, { timeout: 300_000 })
    expect(up.isError, up.text).toBe(false)
    expect(up.data).toMatchObject({ files_count: 2000, verified: true })
    // The host's own view: every file and mode as sent.
    const listed = (await sshd.exec(`find ${remote}/tree -type f -printf x | wc -c`)).stdout.trim()
    expect(listed).toBe("2000")
    expect((await sshd.exec(`stat -c %a ${remote}/tree/d7/new*line`)).stdout.trim()).toBe((modes[7 % modes.length]!).toString(8))
    expect((await sshd.exec(`cat ${remote}/tree/d9/-dash | sha256sum`)).stdout.slice(0, 64)).toBe(sha(files.get(path.join("d9", "-dash"))!.data))
    const back = path.join(local, "tree-back")
    const down = await call(server, "ssh_download", { local_path: back, remote_path: `${remote}/tree` }, { timeout: 300_000 })
    expect(down.isError, down.text).toBe(false)
    expect(down.data).toMatchObject({ files_count: 2000, verified: true })
    for (const [rel, f] of files) {
      expect(fs.readFileSync(path.join(back, rel)).equals(f.data), rel).toBe(true)
      expect(fs.statSync(path.join(back, rel)).mode & 0o777, rel).toBe(f.mode)
    }
    expect(await remoteTemps(remote)).toBe("")
    expect(localTemps(local)).toEqual([])
  })

  const bigTree = (name: string) => {
    const tree = path.join(local, name)
    for (let i = 0; i < 40; i++) {
      fs.mkdirSync(path.join(tree, `d${i % 4}`), { recursive: true })
      fs.writeFileSync(path.join(tree, `d${i % 4}`, `f${i}.bin`), randomBytes(8 * 1024 * 1024))
    }
    return tree
  }

  it("an interrupted tree upload replaces nothing and leaves no temporary file on the host", async () => {
    const tree = bigTree("big-up")
    await sshd.exec(`mkdir -p ${remote}/kill/d0 && echo old > ${remote}/kill/d0/f0.bin && chown -R ${sshd.user.name} ${remote}/kill`)
    const pending = call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/kill` }, { timeout: 300_000 })
    await until(async () => (await remoteTemps(`${remote}/kill`)) !== "")
    await sshd.killConnections()
    const r = await pending
    expect(r.isError).toBe(true)
    expect((await sshd.exec(`cat ${remote}/kill/d0/f0.bin`)).stdout).toBe("old\n")
    expect(await settles(() => remoteTemps(`${remote}/kill`))).toBe("")
  })

  it("an interrupted tree download leaves no temporary file here", async () => {
    await sshd.exec(`mkdir -p ${remote}/kd && for i in $(seq 1 40); do head -c 8000000 /dev/urandom > ${remote}/kd/f$i.bin; done && chown -R ${sshd.user.name} ${remote}/kd`)
    const dest = path.join(local, "kd")
    const pending = call(server, "ssh_download", { local_path: dest, remote_path: `${remote}/kd` }, { timeout: 300_000 })
    await until(() => localTemps(dest).length > 0)
    await sshd.killConnections()
    const r = await pending
    expect(r.isError).toBe(true)
    expect(await settles(() => localTemps(dest))).toEqual([])
    // All or nothing: no file was renamed into place before every one was verified.
    expect(fs.readdirSync(dest)).toEqual([])
    // The host is still usable: the hash command, interrupted while reconnecting, must not leave the reconnect pending forever.
    const alive = await call(server, "ssh_exec", { command: "echo ok" }, { timeout: 30_000 })
    expect(alive.data.stdout).toBe("ok\n")
  })

  it("cancelled tree transfers leave no temporary file on either side", async () => {
    const tree = bigTree("big-cancel")
    const up = new AbortController()
    const pendingUp = call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/cancel-up` }, { signal: up.signal, timeout: 300_000 }).catch((e: Error) => e)
    await until(async () => (await remoteTemps(`${remote}/cancel-up`)) !== "")
    up.abort()
    expect(await pendingUp).toBeInstanceOf(Error)
    expect(await settles(() => remoteTemps(`${remote}/cancel-up`))).toBe("")
    expect((await sshd.exec(`find ${remote}/cancel-up -type f | wc -l`)).stdout.trim()).toBe("0")

    await sshd.exec(`test -d ${remote}/kd || { mkdir -p ${remote}/kd && for i in $(seq 1 40); do head -c 8000000 /dev/urandom > ${remote}/kd/f$i.bin; done; }`)
    const dest = path.join(local, "cancel-down")
    const down = new AbortController()
    const pendingDown = call(server, "ssh_download", { local_path: dest, remote_path: `${remote}/kd` }, { signal: down.signal, timeout: 300_000 }).catch((e: Error) => e)
    await until(() => localTemps(dest).length > 0)
    down.abort()
    expect(await pendingDown).toBeInstanceOf(Error)
    expect(await settles(() => localTemps(dest))).toEqual([])
    const alive = await call(server, "ssh_exec", { command: "echo ok" })
    expect(alive.data.stdout).toBe("ok\n")
  })

  it("the copy loops are byte-exact with any request size and depth", async () => {
    const client = new Client()
    await new Promise<void>((resolve, reject) =>
      client.once("ready", resolve).once("error", reject).connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: sshd.user.name,
        privateKey: fs.readFileSync(sshd.clientKeyPath)
      }))
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((e, s) => e ? reject(e) : resolve(s)))
      // 1000-byte requests one at a time, 7 × 4099, and requests larger than the server's limit (split by ssh2).
      for (const [ioSize, inFlight, size] of [[1000, 1, 100_003], [4099, 7, 1_000_003], [1024 * 1024, 4, 3 * 1024 * 1024 + 777]] as const) {
        const data = randomBytes(size)
        const file = path.join(local, `loop-${ioSize}.bin`)
        fs.writeFileSync(file, data)
        const target = `${remote}/loop-${ioSize}.bin`
        const up = await putFile(sftp, file, target, { ioSize, inFlight })
        expect(up).toEqual({ bytes: data.length, sha256: sha(data) })
        expect((await sshd.exec(`sha256sum < ${target}`)).stdout.slice(0, 64)).toBe(sha(data))
        const back = path.join(local, `loop-back-${ioSize}.bin`)
        const down = await getFile(sftp, target, back, { ioSize, inFlight })
        expect(down).toMatchObject({ bytes: data.length, sha256: sha(data) })
        expect(fs.readFileSync(back).equals(data)).toBe(true)
      }
      // The temporary name is created exclusively: an existing file is never written through.
      const before = (await sshd.exec(`sha256sum < ${remote}/loop-1000.bin`)).stdout
      await expect(putFile(sftp, path.join(local, "loop-4099.bin"), `${remote}/loop-1000.bin`)).rejects.toThrow()
      expect((await sshd.exec(`sha256sum < ${remote}/loop-1000.bin`)).stdout).toBe(before)
    } finally {
      client.end()
    }
  })
})
