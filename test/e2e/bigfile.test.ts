/**
 * A single large file as one stream over an exec channel (issue 16, bench row 6): files of
 * at least SINGLE_VIA_STREAM bytes go up and down as a one-entry tar stream through the
 * host's GNU tar (a logging wrapper shows it ran), smaller ones over SFTP, both verified on
 * both ends; a host whose hasher lies gets CHECKSUM_MISMATCH and nothing is left, as does
 * a host whose tar writes a byte other than the one it received (the host's hash must be of
 * the file that landed, not of the stream); a cancelled transfer leaves no temporary file on
 * either side and no hasher running.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, expect, it } from "vitest"
import { SINGLE_VIA_STREAM } from "../../src/transfers/upload.js"
import { call } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"
import { fakeBin, pathWith, transferBox } from "../support/transferBox.js"

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")

const ls = (dir: string) => fs.readdirSync(dir).sort()

const setup = (getSshd: () => Sshd) => transferBox(getSshd, "bigfile")
const remoteTemps = (s: ReturnType<typeof setup>) => s.sshd.exec(`find ${s.remote} -mindepth 1 -name '*mcpssh-*'`).then((r) => r.stdout)
const localTemps = (s: ReturnType<typeof setup>) => ls(s.local).filter((n) => n.includes("mcpssh-"))

const tarLogDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-bigtarlog-"))
fs.chmodSync(tarLogDir, 0o777)
const tarLog = path.join(tarLogDir, "log")
fs.writeFileSync(tarLog, "")
fs.chmodSync(tarLog, 0o666)
const logging = fakeBin({ tar: `echo "$1" >> ${tarLog}; exec /usr/bin/tar "$@"` })
const tarCalls = () => fs.readFileSync(tarLog, "utf8").split("\n").filter((l) => l === "-x" || l === "-c")

const K = 1024
const MiB = 1024 * 1024
const sizes = [0, 1, 32 * K - 1, 32 * K, 32 * K + 1, 255 * K - 1, 255 * K, 255 * K + 1, 100_003, SINGLE_VIA_STREAM - 1, SINGLE_VIA_STREAM, SINGLE_VIA_STREAM + 1, 2 * MiB - 1, 2 * MiB + 1, 3 * MiB + 12_345, 8 * MiB]

describeWithSshd("single files as one stream", (getSshd) => {
  const s = setup(getSshd)
  afterAll(() => {
    fs.rmSync(logging, { recursive: true, force: true })
    fs.rmSync(tarLogDir, { recursive: true, force: true })
  })

  it("round-trips every size, verified both ends, mode kept; the large ones through the host's tar, the small over SFTP", async () => {
    for (const size of sizes) {
      const data = randomBytes(size)
      const local = path.join(s.local, `f${size}.bin`)
      fs.writeFileSync(local, data)
      fs.chmodSync(local, 0o640)
      const before = tarCalls().length
      const remote = `${s.remote}/sub/f${size}.bin`
      const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: remote }, { timeout: 120_000 })
      expect(up.isError, `${size}: ${up.text}`).toBe(false)
      expect(up.data, String(size)).toMatchObject({ bytes: size, verified: true })
      expect((await s.sshd.exec(`sha256sum < ${remote}; stat -c %a ${remote}`)).stdout, String(size)).toBe(`${sha(data)}  -\n640\n`)
      const back = path.join(s.local, `back${size}.bin`)
      const down = await call(s.server, "ssh_download", { local_path: back, remote_path: remote }, { timeout: 120_000 })
      expect(down.isError, `${size}: ${down.text}`).toBe(false)
      expect(down.data, String(size)).toMatchObject({ bytes: size, verified: true })
      expect(fs.readFileSync(back).equals(data), String(size)).toBe(true)
      expect(fs.statSync(back).mode & 0o777, String(size)).toBe(0o640)
      expect(tarCalls().slice(before), String(size)).toEqual(size >= SINGLE_VIA_STREAM ? ["-x", "-c"] : [])
    }
    expect(await remoteTemps(s)).toBe("")
    expect(localTemps(s)).toEqual([])
  })

  it("keeps the single-file rules: overwrite false refuses either way, a directory in the way refuses", async () => {
    const local = path.join(s.local, "rules.bin")
    fs.writeFileSync(local, randomBytes(2 * MiB))
    const target = `${s.remote}/rules.bin`
    await s.sshd.exec(`printf old > ${target} && chown ${s.sshd.user.name} ${target}`)
    const refused = await call(s.server, "ssh_upload", { local_path: local, remote_path: target, overwrite: false })
    expect(refused.isError).toBe(true)
    expect(refused.text).toMatch(/exists and overwrite is false/)
    expect((await s.sshd.exec(`cat ${target}`)).stdout).toBe("old")
    await s.sshd.exec(`mkdir -p ${s.remote}/adir && chown ${s.sshd.user.name} ${s.remote}/adir`)
    const dir = await call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/adir` })
    expect(dir.isError).toBe(true)
    expect(dir.text).toMatch(/is a directory/)
    await s.sshd.exec(`head -c ${2 * MiB} /dev/urandom > ${target} && chown ${s.sshd.user.name} ${target}`)
    const localTarget = path.join(s.local, "exists.bin")
    fs.writeFileSync(localTarget, "old")
    const noOverwrite = await call(s.server, "ssh_download", { local_path: localTarget, remote_path: target, overwrite: false })
    expect(noOverwrite.isError).toBe(true)
    expect(fs.readFileSync(localTarget, "utf8")).toBe("old")
    expect(await remoteTemps(s)).toBe("")
    expect(localTemps(s)).toEqual([])
  })

  it("a cancelled upload and a cancelled download leave no temporary file on either side", async () => {
    const local = path.join(s.local, "cancel.bin")
    fs.writeFileSync(local, randomBytes(200 * MiB))
    await s.sshd.exec(`head -c ${200 * MiB} /dev/urandom > ${s.remote}/cancel-src.bin && chown ${s.sshd.user.name} ${s.remote}/cancel-src.bin`)
    const dl = path.join(s.local, "cancel-back.bin")
    for (const dir of ["up", "down"] as const) {
      const controller = new AbortController()
      const pending = (dir === "up"
        ? call(s.server, "ssh_upload", { local_path: local, remote_path: `${s.remote}/cancel.bin` }, { signal: controller.signal })
        : call(s.server, "ssh_download", { local_path: dl, remote_path: `${s.remote}/cancel-src.bin` }, { signal: controller.signal })).catch((e: Error) => e)
      const started = async () => dir === "up" ? (await remoteTemps(s)) !== "" : localTemps(s).length > 0
      for (let i = 0; i < 500 && !(await started()); i++) await new Promise((r) => setTimeout(r, 10))
      controller.abort()
      expect(await pending).toBeInstanceOf(Error)
      let left = "x"
      for (let i = 0; i < 100 && left !== ""; i++) {
        left = (await remoteTemps(s)) + localTemps(s).join(",")
        if (left !== "") await new Promise((r) => setTimeout(r, 100))
      }
      expect(left, dir).toBe("")
      expect(fs.existsSync(dl)).toBe(false)
      expect((await s.sshd.exec(`test -e ${s.remote}/cancel.bin && echo there`)).stdout).toBe("")
      // The upload's hasher follows the file until tar ends: it must not outlive the cancel.
      let followers = "x"
      for (let i = 0; i < 100 && followers !== ""; i++) {
        followers = (await s.sshd.exec(`pgrep -u ${s.sshd.user.name} -f -- '--pid=[0-9]+ -F -- cancel[.]bin' || true`)).stdout
        if (followers !== "") await new Promise((r) => setTimeout(r, 100))
      }
      expect(followers, dir).toBe("")
    }
  })
}, pathWith(logging))

const zero = "0".repeat(64)
const lying = fakeBin({
  // Every digest this host prints is zeros, in OpenSSL's `-r` format.
  openssl: `shift 3; if [ $# -eq 0 ]; then cat > /dev/null; echo "${zero} *stdin"; else for f; do echo "${zero} *$f"; done; fi`
})

describeWithSshd("single large files on a host whose hasher lies", (getSshd) => {
  const s = setup(getSshd)
  afterAll(() => fs.rmSync(lying, { recursive: true, force: true }))

  it("upload and download fail with CHECKSUM_MISMATCH, the old targets stay, nothing is left", async () => {
    const local = path.join(s.local, "lie.bin")
    fs.writeFileSync(local, randomBytes(SINGLE_VIA_STREAM + 777))
    const target = `${s.remote}/lie.bin`
    await s.sshd.exec(`printf old > ${target} && chown ${s.sshd.user.name} ${target}`)
    const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: target })
    expect(up.isError, up.text).toBe(true)
    expect(up.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect((await s.sshd.exec(`cat ${target}`)).stdout).toBe("old")
    await s.sshd.exec(`head -c ${SINGLE_VIA_STREAM + 5} /dev/urandom > ${s.remote}/src.bin && chown ${s.sshd.user.name} ${s.remote}/src.bin`)
    const back = path.join(s.local, "lie-back.bin")
    fs.writeFileSync(back, "old")
    const down = await call(s.server, "ssh_download", { local_path: back, remote_path: `${s.remote}/src.bin` })
    expect(down.isError, down.text).toBe(true)
    expect(down.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect(fs.readFileSync(back, "utf8")).toBe("old")
    expect(await remoteTemps(s)).toBe("")
    expect(localTemps(s)).toEqual([])
  })
}, pathWith(lying))

/** Byte 5 000 of the archive (in the file's data, after its 512-byte header) becomes "Z" on its way into tar. */
const CORRUPT_AT = 5000
const corrupting = fakeBin({
  tar: `if [ "$1" = -x ]; then { head -c ${CORRUPT_AT}; head -c 1 > /dev/null; printf Z; exec cat; } | /usr/bin/tar "$@"; else exec /usr/bin/tar "$@"; fi`
})

const flipTest = (getSshd: () => Sshd) => {
  const s = setup(getSshd)

  it("fails with CHECKSUM_MISMATCH (the host hashed what landed, not the stream), the old target stays, nothing is left", async () => {
    // The connection up first, as in use (a first channel open on a loaded machine can look like a long link: lanes).
    expect((await call(s.server, "ssh_exec", { command: "true" })).isError).toBe(false)
    const local = path.join(s.local, "flip.bin")
    const data = randomBytes(2 * SINGLE_VIA_STREAM + 5)
    data[CORRUPT_AT - 512] = 0
    fs.writeFileSync(local, data)
    const target = `${s.remote}/flip.bin`
    await s.sshd.exec(`printf old > ${target} && chown ${s.sshd.user.name} ${target}`)
    const up = await call(s.server, "ssh_upload", { local_path: local, remote_path: target })
    expect(up.isError, up.text).toBe(true)
    expect(up.data).toMatchObject({ error: { code: "CHECKSUM_MISMATCH" } })
    expect(up.text).toContain(sha(data))
    expect((await s.sshd.exec(`cat ${target}`)).stdout).toBe("old")
    expect(await remoteTemps(s)).toBe("")
  })
}

describeWithSshd("a single large file on a host whose tar writes other bytes than it received", flipTest, pathWith(corrupting))

/** A `tail` without `--pid` (BusyBox's): the host hashes the file after tar instead. */
const corruptingNoFollow = fakeBin({
  tar: fs.readFileSync(path.join(corrupting, "tar"), "utf8").replace(/^#!.*\n/, ""),
  tail: `for a; do case "$a" in --pid=*) echo "tail: unrecognized option" >&2; exit 1;; esac; done; exec /usr/bin/tail "$@"`
})
describeWithSshd("the same where tail cannot follow a file until a process ends", flipTest, pathWith(corruptingNoFollow))

afterAll(() => {
  for (const dir of [corrupting, corruptingNoFollow]) fs.rmSync(dir, { recursive: true, force: true })
})
