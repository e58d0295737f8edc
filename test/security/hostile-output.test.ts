/**
 * A hostile host (or an honest huge tree) that floods our helper commands (issue 23, item 2):
 * the `find` of a directory listing, the hasher (`openssl` / `sha256sum`), `tar`'s stderr and
 * the persistent-job listing (behind a ~/.bashrc that prints first) each print 1 GiB. Joined into one string, that output used to
 * throw ERR_STRING_TOO_LONG inside an ssh2 'close' listener and take the whole server down.
 * Each must fail that one call with REMOTE_OUTPUT_TOO_LARGE naming the step, while the
 * server answers the next call and a job running on the same host runs on.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const GIB = 1024 * 1024 * 1024
/** How long the jobs sleep: a number of this run only, to find them on the host. */
const T = 800_000 + Math.floor(Math.random() * 99_999)

// The host account's ~/.bashrc (bash reads it for every command sshd runs) puts our fakes
// first on PATH. Each runs the real tool unless a file named after it in `flood/` says to
// print 1 GiB instead, on stdout ("out") or stderr ("err"); `tar --version` stays honest, so
// the host still looks like GNU tar. With `flood/rc` the ~/.bashrc itself prints 1 GiB first.
const fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-flood-"))
const floodDir = path.join(fakeBin, "flood")
fs.mkdirSync(floodDir)
fs.chmodSync(fakeBin, 0o755)
fs.chmodSync(floodDir, 0o755)
const TOOLS = ["find", "tar", "openssl", "sha256sum", "shasum", "ls"] as const
type Tool = typeof TOOLS[number] | "rc"
for (const tool of TOOLS) {
  fs.writeFileSync(path.join(fakeBin, tool), [
    "#!/bin/sh",
    "n=${0##*/}",
    `if [ -f ${floodDir}/$n ] && [ "$n $1" != "tar --version" ]; then`,
    `  IFS= read -r how < ${floodDir}/$n`,
    `  if [ "$how" = err ]; then head -c ${GIB} /dev/zero >&2; else head -c ${GIB} /dev/zero; fi`,
    "  exit 0",
    "fi",
    "PATH=/usr/local/bin:/usr/bin:/bin exec \"$n\" \"$@\""
  ].join("\n") + "\n", { mode: 0o755 })
}
const bashrc = `export PATH="${fakeBin}:$PATH"\nif [ -f ${floodDir}/rc ]; then head -c ${GIB} /dev/zero; fi\n`
const flood = (tools: Partial<Record<Tool, "out" | "err">>) => {
  for (const tool of [...TOOLS, "rc"]) fs.rmSync(path.join(floodDir, tool), { force: true })
  for (const [tool, how] of Object.entries(tools)) fs.writeFileSync(path.join(floodDir, tool), `${how}\n`, { mode: 0o644 })
}

/** A user of its own, so that its planted ~/.bashrc disturbs no other test. */
const FLOOD_USER = "mcpssh_flood"

describeWithSshd("a host that floods our helper commands", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let remote: string
  let jobId: string
  let home: string
  const args = () => [
    "--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", FLOOD_USER, "--key", sshd.clientKeyPath,
    "--default-host", "box"
  ]
  const local = () => fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-flood-local-"))

  /** The failure names the step, the server answers the next call, the job on the same host runs on. */
  const survived = async (r: { isError: boolean; text: string; data: Record<string, unknown> }, step: RegExp) => {
    expect(r.isError, r.text).toBe(true)
    expect(r.data, `${r.text}\n${server.stderr().slice(-2000)}`).toMatchObject({ error: { code: "REMOTE_OUTPUT_TOO_LARGE" } })
    expect(r.text).toMatch(step)
    const hosts = await call(server, "ssh_list_hosts", {})
    expect(hosts.isError, hosts.text).toBe(false)
    const tail = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 0 })
    expect(tail.data, tail.text).toMatchObject({ status: "running" })
  }

  beforeAll(async () => {
    sshd = getSshd()
    flood({})
    const u = FLOOD_USER
    await sshd.exec(`id -u ${u} >/dev/null 2>&1 || useradd -m -s /bin/bash ${u}`)
    // sshd refuses a locked account even for a key: give it a password nobody uses.
    await sshd.exec(`echo '${u}:pw-${randomBytes(12).toString("hex")}' | chpasswd && usermod -U -s /bin/bash ${u}`)
    fs.copyFileSync(path.join(sshd.dir, "authorized_keys", sshd.user.name), path.join(sshd.dir, "authorized_keys", u))
    home = (await sshd.exec(`getent passwd ${u} | cut -d: -f6`)).stdout.trim()
    fs.writeFileSync(path.join(home, ".bashrc"), bashrc)
    await sshd.exec(`chown ${u}: ${home}/.bashrc`)
    remote = `/tmp/mcpssh-flood-${randomBytes(4).toString("hex")}`
    await sshd.exec([
      `mkdir -p ${remote}/tree/sub`,
      `printf a > ${remote}/tree/a.txt`,
      `printf b > ${remote}/tree/sub/b.txt`,
      `head -c 3000000 /dev/urandom > ${remote}/big.bin`,
      `printf small > ${remote}/small.txt`,
      `chown -R ${u} ${remote}`
    ].join(" && "))
  })
  // Each case on a server of its own, with a job running on the same host.
  beforeEach(async () => {
    flood({})
    server = await startMcpServer({ args: args() })
    const s = await call(server, "ssh_spawn", { command: `echo running; sleep ${T}` })
    expect(s.isError, s.text).toBe(false)
    jobId = s.data.job_id as string
  })
  afterEach(async () => {
    flood({})
    await server?.close()
  })
  afterAll(async () => {
    await sshd?.exec(`pkill -u ${FLOOD_USER} -f "^sleep ${T}$"; rm -rf ${remote} ${home}/.bashrc ${home}/.cache`)
    fs.rmSync(fakeBin, { recursive: true, force: true })
  })

  it("a find that prints 1 GiB: the directory download fails naming the listing", async () => {
    // The plant works: the host's shell runs our find.
    const which = await call(server, "ssh_exec", { command: "command -v find" })
    expect(which.data.stdout).toBe(`${fakeBin}/find\n`)
    flood({ find: "out" })
    const r = await call(server, "ssh_download", { local_path: path.join(local(), "dl"), remote_path: `${remote}/tree` })
    await survived(r, /listing/)
  })

  it("a hasher that prints 1 GiB: single-file and tree transfers fail naming the sha256 step", async () => {
    flood({ openssl: "out", sha256sum: "out", shasum: "out" })
    const down = await call(server, "ssh_download", { local_path: path.join(local(), "small.txt"), remote_path: `${remote}/small.txt` })
    await survived(down, /sha256/)
    const dir = local()
    fs.writeFileSync(path.join(dir, "one.txt"), "one")
    const up = await call(server, "ssh_upload", { local_path: path.join(dir, "one.txt"), remote_path: `${remote}/up/one.txt` })
    await survived(up, /sha256/)
    // A tree upload's hashes come from the same command that unpacks it.
    fs.mkdirSync(path.join(dir, "t"))
    fs.writeFileSync(path.join(dir, "t", "x.txt"), "x")
    fs.writeFileSync(path.join(dir, "t", "y.txt"), "y")
    const tree = await call(server, "ssh_upload", { local_path: path.join(dir, "t"), remote_path: `${remote}/up/t` })
    await survived(tree, /sha256|unpack/)
  })

  it("a tar that prints 1 GiB on stderr or stdout: tree transfers both ways fail naming tar", async () => {
    flood({ tar: "err" })
    const down = await call(server, "ssh_download", { local_path: path.join(local(), "dl"), remote_path: `${remote}/tree` })
    await survived(down, /tar/)
    const dir = local()
    fs.mkdirSync(path.join(dir, "t"))
    fs.writeFileSync(path.join(dir, "t", "x.txt"), "x")
    fs.writeFileSync(path.join(dir, "t", "y.txt"), "y")
    const up = await call(server, "ssh_upload", { local_path: path.join(dir, "t"), remote_path: `${remote}/up/tar` })
    await survived(up, /tar/)
    // A large single file goes through tar too.
    const big = await call(server, "ssh_download", { local_path: path.join(dir, "big.bin"), remote_path: `${remote}/big.bin` })
    await survived(big, /tar/)
    // 1 GiB on stdout instead of an archive: zero blocks end it at once, and what follows is not read on and on.
    flood({ tar: "out" })
    const past = await call(server, "ssh_download", { local_path: path.join(local(), "dl"), remote_path: `${remote}/tree` })
    await survived(past, /tar -c .*past the archive's end/)
  })

  it("a persistent-job listing of 1 GiB: the listing fails alone, the server goes on", async () => {
    flood({})
    const p = await call(server, "ssh_spawn", { command: `sleep ${T}`, persistent: true })
    expect(p.isError, p.text).toBe(false)
    // A second server finds the job dir on the host and lists it (once per host, at its first job listing).
    const other = await startMcpServer({ args: args() })
    try {
      expect((await call(other, "ssh_exec", { command: "true" })).isError).toBe(false)
      flood({ rc: "out" })
      const listed = await call(other, "ssh_list_jobs", {})
      // The job list itself still answers; the host's listing is left out and logged.
      expect(listed.isError, listed.text).toBe(false)
      expect(other.stderr()).toMatch(/REMOTE_OUTPUT_TOO_LARGE|more than/)
      const hosts = await call(other, "ssh_list_hosts", {})
      expect(hosts.isError, hosts.text).toBe(false)
    } finally {
      flood({})
      await other.close()
      await call(server, "ssh_remove_job", { job_id: p.data.job_id, force: true })
    }
  })

  it("every tool at once, ls included: each call fails alone and the job still runs", async () => {
    flood({ find: "out", tar: "err", openssl: "out", sha256sum: "out", shasum: "out", ls: "out" })
    const down = await call(server, "ssh_download", { local_path: path.join(local(), "dl"), remote_path: `${remote}/tree` })
    await survived(down, /./)
    flood({})
    // Nothing is left broken: the same download works once the host behaves.
    const dir = local()
    const ok = await call(server, "ssh_download", { local_path: path.join(dir, "dl"), remote_path: `${remote}/tree` })
    expect(ok.isError, ok.text).toBe(false)
    expect(fs.readFileSync(path.join(dir, "dl", "sub", "b.txt"), "utf8")).toBe("b")
  })
})
