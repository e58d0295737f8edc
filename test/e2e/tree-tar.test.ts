/**
 * Trees as one tar stream (issue 16): a round trip of odd names, sizes around the block
 * size, long and non-ASCII names and empty directories through the host's own GNU tar (a
 * logging wrapper shows it ran); the file-by-file SFTP path when the host has no GNU tar;
 * and a host whose tar sends a link, a ".." path or a file not asked for: refused, nothing
 * written.
 */
import { createHash, randomBytes } from "node:crypto"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, expect, it } from "vitest"
import { endOfArchive, fileHeader, padding } from "../../src/transfers/tar.js"
import { call } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"
import { fakeBin, pathWith, transferBox } from "../support/transferBox.js"

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")


const temps = (dir: string) => (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((n) => n.includes("mcpssh-"))

/** A suite with a server and a fresh remote directory owned by the test user. */
const setup = (getSshd: () => Sshd) => transferBox(getSshd, "tartree")

const oddNames = [
  "plain.txt",
  "tab\there.txt",
  "new\nline",
  "-dash",
  "back\\slash",
  "sp ace",
  "ünïcödé/日本語.txt",
  `long/${"n".repeat(101)}/${"m".repeat(180)}.bin`,
  "sizes/s0",
  "sizes/s1",
  "sizes/s511",
  "sizes/s512",
  "sizes/s513",
  "big/over-1MiB.bin"
]
const sizeOf = (name: string) => name.startsWith("sizes/s") ? Number(name.slice(7)) : name.startsWith("big/") ? 1024 * 1024 + 1 : 100 + name.length

/** The tree above with modes, plus empty directories; returns what each file holds. */
const makeTree = (root: string) => {
  const files = new Map<string, { data: Buffer; mode: number }>()
  oddNames.forEach((rel, i) => {
    const data = randomBytes(sizeOf(rel))
    const mode = [0o644, 0o600, 0o755, 0o640][i % 4]!
    fs.mkdirSync(path.join(root, path.dirname(rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), data)
    fs.chmodSync(path.join(root, rel), mode)
    files.set(rel, { data, mode })
  })
  fs.mkdirSync(path.join(root, "empty", "deeper"), { recursive: true })
  return files
}

const roundTrip = async (s: ReturnType<typeof setup>, name: string) => {
  const tree = path.join(s.local, name)
  const files = makeTree(tree)
  const up = await call(s.server, "ssh_upload", { local_path: tree, remote_path: `${s.remote}/${name}` }, { timeout: 120_000 })
  expect(up.isError, up.text).toBe(false)
  expect(up.data).toMatchObject({ files_count: files.size, verified: true })
  for (const [rel, f] of files) {
    const q = `'${`${s.remote}/${name}/${rel}`.replace(/'/g, "'\\''")}'`
    expect((await s.sshd.exec(`sha256sum < ${q}; stat -c %a ${q}`)).stdout, rel).toBe(`${sha(f.data)}  -\n${f.mode.toString(8)}\n`)
  }
  const back = path.join(s.local, `${name}-back`)
  const down = await call(s.server, "ssh_download", { local_path: back, remote_path: `${s.remote}/${name}` }, { timeout: 120_000 })
  expect(down.isError, down.text).toBe(false)
  expect(down.data).toMatchObject({ files_count: files.size, verified: true })
  for (const [rel, f] of files) {
    expect(fs.readFileSync(path.join(back, rel)).equals(f.data), rel).toBe(true)
    expect(fs.statSync(path.join(back, rel)).mode & 0o777, rel).toBe(f.mode)
  }
  expect((await s.sshd.exec(`find ${s.remote} -mindepth 1 -name '*mcpssh-*'`)).stdout).toBe("")
  expect(temps(s.local)).toEqual([])
}

const tarLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-tarlog-")), "log")
fs.chmodSync(path.dirname(tarLog), 0o777)
fs.writeFileSync(tarLog, "", { mode: 0o666 })
fs.chmodSync(tarLog, 0o666)
const logging = fakeBin({ tar: `echo "$1" >> ${tarLog}; exec /usr/bin/tar "$@"` })

describeWithSshd("tree transfers through the host's tar", (getSshd) => {
  const s = setup(getSshd)
  afterAll(() => {
    fs.rmSync(logging, { recursive: true, force: true })
    fs.rmSync(path.dirname(tarLog), { recursive: true, force: true })
  })

  it("round-trips odd names, sizes around 512, long and non-ASCII names, modes; empty directories do not stop it", async () => {
    await roundTrip(s, "odd")
    const log = fs.readFileSync(tarLog, "utf8").split("\n")
    expect(log).toContain("-x")
    expect(log).toContain("-c")
  })

  it("over an existing tree: files replaced one by one, others kept; a directory in a file's place refuses it all", async () => {
    const tree = path.join(s.local, "again")
    fs.mkdirSync(path.join(tree, "d", "new"), { recursive: true })
    fs.writeFileSync(path.join(tree, "top.txt"), "top v1")
    fs.writeFileSync(path.join(tree, "d", "a.txt"), "a v1")
    const target = `${s.remote}/again`
    expect((await call(s.server, "ssh_upload", { local_path: tree, remote_path: target })).isError).toBe(false)
    await s.sshd.exec(`printf keep > ${target}/d/keep.txt && chown ${s.sshd.user.name} ${target}/d/keep.txt`)
    fs.writeFileSync(path.join(tree, "top.txt"), "top v2")
    fs.writeFileSync(path.join(tree, "d", "a.txt"), "a v2")
    fs.writeFileSync(path.join(tree, "d", "new", "n.txt"), "n")
    const again = await call(s.server, "ssh_upload", { local_path: tree, remote_path: target })
    expect(again.isError, again.text).toBe(false)
    expect((await s.sshd.exec(`cd ${target} && for f in top.txt d/a.txt d/keep.txt d/new/n.txt; do cat $f; echo; done`)).stdout).toBe("top v2\na v2\nkeep\nn\n")
    await s.sshd.exec(`mkdir -p ${target}/d/a.txt.dir && rm ${target}/d/a.txt && mv ${target}/d/a.txt.dir ${target}/d/a.txt`)
    fs.writeFileSync(path.join(tree, "top.txt"), "top v3")
    const blocked = await call(s.server, "ssh_upload", { local_path: tree, remote_path: target })
    expect(blocked.isError).toBe(true)
    expect(blocked.text).toMatch(/d\/a\.txt is a directory/)
    expect((await s.sshd.exec(`cat ${target}/top.txt`)).stdout).toBe("top v2")
    expect((await s.sshd.exec(`find ${s.remote} -mindepth 1 -name '*mcpssh-*'`)).stdout).toBe("")
  })
}, pathWith(logging))

const noTar = fakeBin({ tar: "echo 'tar: not here' >&2; exit 127" })

describeWithSshd("tree transfers without GNU tar on the host", (getSshd) => {
  const s = setup(getSshd)
  afterAll(() => fs.rmSync(noTar, { recursive: true, force: true }))

  it("fall back to file-by-file SFTP with the same result", async () => {
    await roundTrip(s, "fallback")
  })
}, pathWith(noTar))

const evilDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-eviltar-"))
fs.chmodSync(evilDir, 0o755)
const which = path.join(evilDir, "which")
const hostile = fakeBin({ tar: `case "$1" in -c) cat "$(cat ${which})";; *) exec /usr/bin/tar "$@";; esac` })

describeWithSshd("a host whose tar lies", (getSshd) => {
  const s = setup(getSshd)
  afterAll(() => {
    fs.rmSync(hostile, { recursive: true, force: true })
    fs.rmSync(evilDir, { recursive: true, force: true })
  })
  const archive = (name: string, data: Buffer) => {
    const file = path.join(evilDir, name)
    fs.writeFileSync(file, data, { mode: 0o644 })
    return file
  }
  const entry = (name: string, body: string) => [fileHeader(name, body.length, 0o644), Buffer.from(body), padding(body.length)]

  it("a link, a \"..\" path or a file not asked for is refused and nothing is written", async () => {
    await s.sshd.exec(`mkdir -p ${s.remote}/evil && printf ok > ${s.remote}/evil/ok.txt && printf two > ${s.remote}/evil/two.txt && chown -R ${s.sshd.user.name} ${s.remote}`)
    const linkSrc = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-evilsrc-"))
    fs.symlinkSync("/etc/passwd", path.join(linkSrc, "ok.txt"))
    const cases: Array<[string, RegExp]> = [
      [archive("link.tar", execFileSync("tar", ["-c", "--format=pax", "-C", linkSrc, "-f", "-", "./ok.txt"])), /link/],
      [archive("dotdot.tar", Buffer.concat([...entry("ok.txt", "ok"), ...entry("../escape", "x"), ...entry("two.txt", "two"), endOfArchive()])), /\.\./],
      [archive("extra.tar", Buffer.concat([...entry("ok.txt", "ok"), ...entry("extra.txt", "x"), ...entry("two.txt", "two"), endOfArchive()])), /not asked for/]
    ]
    fs.rmSync(linkSrc, { recursive: true, force: true })
    for (const [file, reason] of cases) {
      fs.writeFileSync(which, file)
      fs.chmodSync(which, 0o644)
      const dir = fs.mkdtempSync(path.join(s.local, "case-"))
      const r = await call(s.server, "ssh_download", { local_path: path.join(dir, "dl"), remote_path: `${s.remote}/evil` })
      expect(r.isError, `${file}: ${r.text}`).toBe(true)
      expect(r.data).toMatchObject({ error: { code: "SFTP_FAILED" } })
      expect(r.text, file).toMatch(reason)
      expect(fs.readdirSync(dir)).toEqual(["dl"])
      expect(fs.readdirSync(path.join(dir, "dl")), file).toEqual([])
    }
  })
}, pathWith(hostile))
