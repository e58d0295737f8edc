/** SFTP upload and download through the MCP client, against a real sshd. */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type McpServerProcess, onFirstCell, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, boxArgs } from "../support/sshd.js"

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")

for (const m of CLIENT_MATRIX) describeWithSshd(`SFTP transfers (${m.name})`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let local: string
  let remote: string

  beforeAll(async () => {
    sshd = getSshd()
    local = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-sftp-"))
    remote = `/tmp/mcpssh-sftp-${randomBytes(4).toString("hex")}`
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: boxArgs(sshd)
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd?.exec(`rm -rf ${remote}`)
  })

  if (onFirstCell(m)) it("round-trips a random 50 MB file and every byte value, verified on both ends", async () => {
    const big = path.join(local, "big.bin")
    fs.writeFileSync(big, randomBytes(50 * 1024 * 1024))
    const bytes = path.join(local, "bytes.bin")
    fs.writeFileSync(bytes, Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256)))
    for (const file of [big, bytes]) {
      const name = path.basename(file)
      const up = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/in/${name}` })
      expect(up.isError, up.text).toBe(false)
      expect(up.data).toMatchObject({ verified: true, bytes: fs.statSync(file).size, sha256_local: sha(file), sha256_remote: sha(file) })
      const remoteSum = (await sshd.exec(`sha256sum ${remote}/in/${name}`)).stdout.split(" ")[0]
      expect(remoteSum).toBe(sha(file))
      const back = path.join(local, "back", name)
      const down = await call(server, "ssh_download", { local_path: back, remote_path: `${remote}/in/${name}` })
      expect(down.isError, down.text).toBe(false)
      expect(down.data).toMatchObject({ verified: true })
      expect(sha(back)).toBe(sha(file))
    }
    expect((await sshd.exec(`ls -A ${remote}/in`)).stdout.split("\n").filter((l) => l.includes(".tmp"))).toEqual([])
  })

  it("refuses to overwrite with overwrite: false, leaving the target unchanged", async () => {
    const file = path.join(local, "small.txt")
    fs.writeFileSync(file, "first\n")
    await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/keep.txt` })
    fs.writeFileSync(file, "second\n")
    const r = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/keep.txt`, overwrite: false })
    expect(r.data).toMatchObject({ error: { code: "SFTP_FAILED" } })
    expect(r.text).toMatch(/exists and overwrite is false/)
    expect((await sshd.exec(`cat ${remote}/keep.txt`)).stdout).toBe("first\n")
    const replaced = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/keep.txt` })
    expect(replaced.isError, replaced.text).toBe(false)
    expect((await sshd.exec(`cat ${remote}/keep.txt`)).stdout).toBe("second\n")
  })

  it("names missing files and directories in the way", async () => {
    const missing = await call(server, "ssh_upload", { local_path: path.join(local, "nope"), remote_path: `${remote}/x` })
    expect(missing.data).toMatchObject({ error: { code: "SFTP_FAILED" } })
    expect(missing.text).toMatch(/local_path .*nope.*no such file/)
    const file = path.join(local, "f.txt")
    fs.writeFileSync(file, "x")
    await sshd.exec(`mkdir -p ${remote}/adir && chown ${sshd.user.name} ${remote}/adir`)
    const dir = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/adir` })
    expect(dir.text).toMatch(/is a directory/)
    const nofile = await call(server, "ssh_download", { local_path: path.join(local, "y"), remote_path: `${remote}/does-not-exist` })
    expect(nofile.text).toMatch(/no such file/)
  })

  if (onFirstCell(m)) it("round-trips a tree of 200 small files with their modes", async () => {
    const tree = path.join(local, "tree")
    const modes = [0o644, 0o600, 0o755, 0o640]
    for (let i = 0; i < 200; i++) {
      const file = path.join(tree, `d${i % 7}`, `sub${i % 3}`, `f${i}.txt`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, `file ${i}\n${randomBytes(i).toString("hex")}\n`)
      fs.chmodSync(file, modes[i % modes.length]!)
    }
    const up = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/tree` })
    expect(up.isError, up.text).toBe(false)
    expect(up.data).toMatchObject({ files_count: 200, verified: true, files: [] })
    // One digest over the tree per side (results.test.ts checks it against the host's sha256sum).
    expect(up.data.sha256_local).toMatch(/^[0-9a-f]{64}$/)
    expect(up.data.sha256_remote).toBe(up.data.sha256_local)
    expect(Buffer.byteLength(JSON.stringify(up.data))).toBeLessThan(1024)
    const back = path.join(local, "tree-back")
    const down = await call(server, "ssh_download", { local_path: back, remote_path: `${remote}/tree` })
    expect(down.isError, down.text).toBe(false)
    expect(down.data).toMatchObject({ files_count: 200, verified: true })
    for (let i = 0; i < 200; i++) {
      const rel = path.join(`d${i % 7}`, `sub${i % 3}`, `f${i}.txt`)
      expect(fs.readFileSync(path.join(back, rel), "utf8")).toBe(fs.readFileSync(path.join(tree, rel), "utf8"))
      expect(fs.statSync(path.join(back, rel)).mode & 0o777).toBe(modes[i % modes.length])
    }
  })

  it("sends progress notifications for a large upload", async () => {
    // Reports come at most every 250 ms, the first soon after the first bytes, the last at the
    // end: a file that takes several intervals to send even on a quiet machine (64 MiB took
    // ~0.15 s here, and once in CI gave one report).
    const size = 192 * 1024 * 1024
    const file = path.join(local, "progress.bin")
    fs.writeFileSync(file, randomBytes(size))
    const seen: Array<{ progress: number; total?: number }> = []
    const r = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/progress.bin` }, {
      onprogress: (p) => seen.push(p as { progress: number; total?: number })
    })
    expect(r.isError, r.text).toBe(false)
    expect(seen.length).toBeGreaterThanOrEqual(2)
    expect(seen.at(-1)!.total).toBe(size)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.progress).toBeGreaterThanOrEqual(seen[i - 1]!.progress)
    fs.rmSync(file)
    await sshd.exec(`rm -f ${remote}/progress.bin`)
  })

  it("an interrupted upload leaves the old target intact and no temporary file", async () => {
    const target = `${remote}/victim.bin`
    const old = path.join(local, "old.bin")
    fs.writeFileSync(old, randomBytes(1024))
    await call(server, "ssh_upload", { local_path: old, remote_path: target })
    const file = path.join(local, "huge.bin")
    fs.writeFileSync(file, randomBytes(300 * 1024 * 1024))
    const pending = call(server, "ssh_upload", { local_path: file, remote_path: target })
    // Kill the connection while the temporary file is being written.
    for (let i = 0; i < 100; i++) {
      if ((await sshd.exec(`ls -A ${remote}`)).stdout.includes(".victim.bin.mcpssh-")) break
      await new Promise((r) => setTimeout(r, 50))
    }
    await sshd.killConnections()
    const r = await pending
    expect(r.isError).toBe(true)
    expect((await sshd.exec(`sha256sum ${target}`)).stdout.split(" ")[0]).toBe(sha(old))
    let leftovers = "x"
    for (let i = 0; i < 100 && leftovers !== ""; i++) {
      leftovers = (await sshd.exec(`ls -A ${remote} | grep mcpssh- || true`)).stdout.trim()
      if (leftovers !== "") await new Promise((r) => setTimeout(r, 200))
    }
    expect(leftovers).toBe("")
  })

  it("a cancelled upload removes its temporary file", async () => {
    const file = path.join(local, "cancel.bin")
    fs.writeFileSync(file, randomBytes(300 * 1024 * 1024))
    const controller = new AbortController()
    const pending = call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/cancel/c.bin` }, { signal: controller.signal }).catch((e: Error) => e)
    for (let i = 0; i < 100; i++) {
      if ((await sshd.exec(`ls -A ${remote}/cancel 2>/dev/null`)).stdout.includes(".c.bin.mcpssh-")) break
      await new Promise((r) => setTimeout(r, 50))
    }
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    let listing = "x"
    for (let i = 0; i < 100 && listing !== ""; i++) {
      listing = (await sshd.exec(`ls -A ${remote}/cancel`)).stdout.trim()
      if (listing !== "") await new Promise((r) => setTimeout(r, 200))
    }
    expect(listing).toBe("")
    const alive = await call(server, "ssh_exec", { command: "echo ok" })
    expect(alive.data.stdout).toBe("ok\n")
  })
})
