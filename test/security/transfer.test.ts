/**
 * Attacks on ssh_download / ssh_upload (issue 13, points 1, 9 and 12; docs/SECURITY.md): a hostile
 * host's directory names, a host that lies in its listing, symlinks on the local side,
 * set-uid modes, and who can read what we write locally.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, boxArgs } from "../support/sshd.js"

// A `find` that lies like a compromised host would: any name containing LIE-ESCAPE is
// listed as if it were one level above the directory asked about. Only this test's sshd
// puts it first on PATH.
const fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-fakebin-"))
fs.chmodSync(fakeBin, 0o755)
fs.writeFileSync(path.join(fakeBin, "find"), "#!/bin/sh\n/usr/bin/find \"$@\" | sed 's#LIE-ESCAPE#../LIE-ESCAPE#g'\n", { mode: 0o755 })

const ls = (dir: string) => fs.readdirSync(dir).sort()

describeWithSshd("transfer trust", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let remote: string
  /** A fresh local directory per test: local_path goes inside it, so anything written next to it shows. */
  const parent = () => fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-trust-"))
  /** Run as root on the host, then give `remote` to the test user. */
  const onHost = async (script: string) => {
    const r = await sshd.exec(`set -e; ${script}; chown -R ${sshd.user.name} ${remote}`)
    expect(r.code, r.stderr).toBe(0)
  }

  beforeAll(async () => {
    sshd = getSshd()
    remote = `/tmp/mcpssh-trust-${randomBytes(4).toString("hex")}`
    await sshd.exec(`mkdir -p ${remote}`)
    server = await startMcpServer({
      args: boxArgs(sshd)
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd?.exec(`rm -rf ${remote}`)
    fs.rmSync(fakeBin, { recursive: true, force: true })
  })

  it("a directory named b<TAB>1<NEWLINE>.. on the host is downloaded inside local_path, nothing outside", async () => {
    await onHost([
      `mkdir -p ${remote}/names/"$(printf 'b\\t1\\n..')"`,
      `printf pwned > ${remote}/names/"$(printf 'b\\t1\\n..')"/file`,
      // What today's line-split listing would read instead, so it gets that far.
      `printf b > ${remote}/names/b`,
      `printf outside > ${remote}/file`,
      `printf ok > ${remote}/names/ok.txt`
    ].join("; "))
    const dir = parent()
    const local = path.join(dir, "dl")
    const r = await call(server, "ssh_download", { local_path: local, remote_path: `${remote}/names` })
    expect(ls(dir)).toEqual(["dl"])
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ files_count: 3, verified: true })
    expect(fs.readFileSync(path.join(local, "b\t1\n..", "file"), "utf8")).toBe("pwned")
    expect(fs.readFileSync(path.join(local, "ok.txt"), "utf8")).toBe("ok")
    expect(ls(local)).toEqual(["b", "b\t1\n..", "ok.txt"])
  })

  it("a host whose listing names a path outside the directory is refused, and nothing is written", async () => {
    await onHost([
      `mkdir -p ${remote}/lie`,
      `printf ok > ${remote}/lie/ok.txt`,
      `printf inside > ${remote}/lie/LIE-ESCAPE`,
      `printf outside > ${remote}/LIE-ESCAPE`
    ].join("; "))
    // The hostile host's shell finds the lying `find` first (see extraConfig below).
    const which = await call(server, "ssh_exec", { command: `cd ${remote}/lie && command -v find && find . -type f | LC_ALL=C sort` })
    expect(which.data.stdout).toBe(`${fakeBin}/find\n./../LIE-ESCAPE\n./ok.txt\n`)
    const dir = parent()
    const local = path.join(dir, "dl")
    const r = await call(server, "ssh_download", { local_path: local, remote_path: `${remote}/lie` })
    expect(ls(dir)).toEqual(fs.existsSync(local) ? ["dl"] : [])
    expect(r.isError).toBe(true)
    expect(r.data).toMatchObject({ error: { code: "SFTP_FAILED" } })
    expect(r.text).toMatch(/\.\.\/LIE-ESCAPE/)
    expect(fs.existsSync(local) ? ls(local) : []).toEqual([])
  })

  it("a symlink inside local_path that leads outside it is not followed", async () => {
    await onHost([
      `mkdir -p ${remote}/linked/sub`,
      `printf deep > ${remote}/linked/sub/f.txt`,
      `printf top > ${remote}/linked/top.txt`
    ].join("; "))
    const dir = parent()
    const outside = path.join(dir, "outside")
    fs.mkdirSync(outside)
    const local = path.join(dir, "dl")
    fs.mkdirSync(local)
    fs.symlinkSync(outside, path.join(local, "sub"))
    const r = await call(server, "ssh_download", { local_path: local, remote_path: `${remote}/linked` })
    expect(ls(outside)).toEqual([])
    expect(r.isError).toBe(true)
    expect(r.data).toMatchObject({ error: { code: "SFTP_FAILED" } })
    expect(r.text).toMatch(/sub.*outside local_path/)
    expect(ls(local)).toEqual(["sub"])
  })

  it("a symlink at a file's place inside local_path is replaced, its target untouched", async () => {
    await onHost(`mkdir -p ${remote}/flat; printf new > ${remote}/flat/victim.txt`)
    const dir = parent()
    const outside = path.join(dir, "precious.txt")
    fs.writeFileSync(outside, "precious")
    const local = path.join(dir, "dl")
    fs.mkdirSync(local)
    fs.symlinkSync(outside, path.join(local, "victim.txt"))
    const r = await call(server, "ssh_download", { local_path: local, remote_path: `${remote}/flat` })
    expect(r.isError, r.text).toBe(false)
    expect(fs.readFileSync(outside, "utf8")).toBe("precious")
    expect(fs.lstatSync(path.join(local, "victim.txt")).isFile()).toBe(true)
    expect(fs.readFileSync(path.join(local, "victim.txt"), "utf8")).toBe("new")
  })

  it("set-uid, set-gid and sticky bits never reach a downloaded file", async () => {
    await onHost([
      `mkdir -p ${remote}/modes`,
      `printf u > ${remote}/modes/suid; chmod 4755 ${remote}/modes/suid`,
      `printf g > ${remote}/modes/sgid; chmod 2755 ${remote}/modes/sgid`,
      `printf t > ${remote}/modes/sticky; chmod 1755 ${remote}/modes/sticky`
    ].join("; "))
    // chown drops set-uid/set-gid; set them again as the owner would.
    await sshd.exec(`chmod 4755 ${remote}/modes/suid; chmod 2755 ${remote}/modes/sgid; stat -c '%a %n' ${remote}/modes/*`)
    expect((await sshd.exec(`stat -c '%a' ${remote}/modes/suid ${remote}/modes/sgid`)).stdout.split("\n").slice(0, 2)).toEqual(["4755", "2755"])
    const dir = parent()
    const tree = await call(server, "ssh_download", { local_path: path.join(dir, "tree"), remote_path: `${remote}/modes` })
    expect(tree.isError, tree.text).toBe(false)
    for (const name of ["suid", "sgid", "sticky"]) {
      expect(fs.statSync(path.join(dir, "tree", name)).mode & 0o7777, name).toBe(0o755)
    }
    const single = await call(server, "ssh_download", { local_path: path.join(dir, "one"), remote_path: `${remote}/modes/suid` })
    expect(single.isError, single.text).toBe(false)
    expect(fs.statSync(path.join(dir, "one")).mode & 0o7777).toBe(0o755)
    expect(single.data.files).toEqual([expect.objectContaining({ mode: "0755" })])
    // Even asked for explicitly: a local set-uid file is never made.
    const asked = await call(server, "ssh_download", { local_path: path.join(dir, "asked"), remote_path: `${remote}/modes/suid`, mode: "4755" })
    expect(asked.isError, asked.text).toBe(false)
    expect(fs.statSync(path.join(dir, "asked")).mode & 0o7777).toBe(0o755)
  })

  it("an upload drops a local file's set-uid bit unless mode asks for it", async () => {
    const dir = parent()
    const file = path.join(dir, "tool")
    fs.writeFileSync(file, "#!/bin/sh\n")
    fs.chmodSync(file, 0o4755)
    const plain = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/up/plain` })
    expect(plain.isError, plain.text).toBe(false)
    expect((await sshd.exec(`stat -c '%a' ${remote}/up/plain`)).stdout.trim()).toBe("755")
    const asked = await call(server, "ssh_upload", { local_path: file, remote_path: `${remote}/up/asked`, mode: "4755" })
    expect(asked.isError, asked.text).toBe(false)
    expect((await sshd.exec(`stat -c '%a' ${remote}/up/asked`)).stdout.trim()).toBe("4755")
  })

  it("an upload does not follow symlinks in the local tree", async () => {
    const dir = parent()
    const secret = path.join(dir, "secret")
    fs.mkdirSync(secret)
    fs.writeFileSync(path.join(secret, "key.txt"), "secret")
    const tree = path.join(dir, "tree")
    fs.mkdirSync(tree)
    fs.writeFileSync(path.join(tree, "a.txt"), "a")
    fs.symlinkSync(secret, path.join(tree, "dirlink"))
    fs.symlinkSync(path.join(secret, "key.txt"), path.join(tree, "filelink"))
    const r = await call(server, "ssh_upload", { local_path: tree, remote_path: `${remote}/uptree` })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ files_count: 1 })
    expect((await sshd.exec(`cd ${remote}/uptree && find . | sort`)).stdout).toBe(".\n./a.txt\n")
  })

  it("a download's temporary file is private (0600 in a 0700 directory) and a cancelled one leaves nothing", async () => {
    await onHost(`head -c 200000000 /dev/urandom > ${remote}/big.bin; chmod 644 ${remote}/big.bin`)
    const dir = parent()
    /** Every mode each private directory and file was seen with. */
    const seen: Array<[string, number]> = []
    let watching = true
    const watch = (async () => {
      while (watching) {
        for (const name of fs.readdirSync(dir)) {
          if (!name.includes("mcpssh-")) continue
          try {
            const p = path.join(dir, name)
            seen.push([name, fs.lstatSync(p).mode])
            if (fs.lstatSync(p).isDirectory()) for (const inner of fs.readdirSync(p)) seen.push([`${name}/${inner}`, fs.lstatSync(path.join(p, inner)).mode])
          } catch {
            // gone between readdir and stat
          }
        }
        await new Promise((r) => setTimeout(r, 2))
      }
    })()
    const r = await call(server, "ssh_download", { local_path: path.join(dir, "big.bin"), remote_path: `${remote}/big.bin` })
    watching = false
    await watch
    expect(r.isError, r.text).toBe(false)
    // Both the private directory and the file in it were seen: the directory only we can enter,
    // the file created 0600 in it (its final mode is set on its descriptor once it is complete,
    // just before it is renamed out, so that nothing is done by path after the rename).
    const files = seen.filter(([, m]) => (m & fs.constants.S_IFMT) === fs.constants.S_IFREG)
    expect(files.some(([, m]) => (m & 0o7777) === 0o600)).toBe(true)
    for (const [name, mode] of files) expect([0o600, 0o644], `${name} ${(mode & 0o7777).toString(8)}`).toContain(mode & 0o7777)
    for (const [name, mode] of seen) {
      if ((mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR) expect(mode & 0o7777, `${name} ${(mode & 0o7777).toString(8)}`).toBe(0o700)
    }
    expect(fs.statSync(path.join(dir, "big.bin")).mode & 0o777).toBe(0o644)
    expect(ls(dir)).toEqual(["big.bin"])

    const controller = new AbortController()
    const pending = call(server, "ssh_download", { local_path: path.join(dir, "cancel.bin"), remote_path: `${remote}/big.bin` }, { signal: controller.signal }).catch((e: Error) => e)
    for (let i = 0; i < 500 && !ls(dir).some((n) => n.includes("mcpssh-")); i++) await new Promise((r) => setTimeout(r, 5))
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    let left = ["x"]
    for (let i = 0; i < 100 && left.length > 0; i++) {
      left = ls(dir).filter((n) => n !== "big.bin")
      if (left.length > 0) await new Promise((r) => setTimeout(r, 100))
    }
    expect(left).toEqual([])
  })

  it("an interrupted download leaves the old target intact and no temporary file", async () => {
    await onHost(`test -f ${remote}/big.bin || head -c 200000000 /dev/urandom > ${remote}/big.bin`)
    const dir = parent()
    const target = path.join(dir, "victim.bin")
    fs.writeFileSync(target, "old")
    const pending = call(server, "ssh_download", { local_path: target, remote_path: `${remote}/big.bin` })
    for (let i = 0; i < 500 && !ls(dir).some((n) => n.includes("mcpssh-")); i++) await new Promise((r) => setTimeout(r, 5))
    await sshd.killConnections()
    const r = await pending
    expect(r.isError).toBe(true)
    expect(fs.readFileSync(target, "utf8")).toBe("old")
    expect(ls(dir)).toEqual(["victim.bin"])
  })

  it("a local user who owns a directory on the download path cannot turn the mode change onto another file", async () => {
    // 200 files of mode 0777 on the host; here, root-owned 0600 files of the same names in a
    // directory the attacker cannot write, and a download into a directory the attacker owns.
    const names = Array.from({ length: 200 }, (_, i) => `f${String(i).padStart(3, "0")}`)
    await onHost(`mkdir -p ${remote}/race && cd ${remote}/race && for n in ${names.join(" ")}; do printf x > $n; done && chmod 777 *`)
    const base = parent()
    fs.chmodSync(base, 0o755)
    const victim = path.join(base, "victim")
    fs.mkdirSync(victim, { mode: 0o700 })
    for (const n of names) fs.writeFileSync(path.join(victim, n), "secret", { mode: 0o600 })
    const owned = path.join(base, "owned")
    fs.mkdirSync(owned, { mode: 0o755 })
    fs.chownSync(owned, 65534, 65534)
    const dl = path.join(owned, "dl")
    // The attacker (nobody) watches the download's directory; at the first file renamed into it,
    // it swaps the directory for a symlink to the victims. Only what follows the rename can be fooled.
    const attacker = [
      "import ctypes, os, sys",
      "dl, victim = sys.argv[1], sys.argv[2]",
      "os.mkdir(dl)",
      "libc = ctypes.CDLL('libc.so.6', use_errno=True)",
      "fd = libc.inotify_init()",
      "libc.inotify_add_watch(fd, dl.encode(), 0x80)",
      "print('ready', flush=True)",
      "os.read(fd, 4096)",
      "os.rename(dl, dl + '.real')",
      "os.symlink(victim, dl)",
      "print('swapped', flush=True)"
    ].join("\n")
    const child = spawn("runuser", ["-u", "nobody", "--", "/usr/bin/python3", "-c", attacker, dl, victim], { stdio: ["ignore", "pipe", "inherit"] })
    let said = ""
    child.stdout.on("data", (d: Buffer) => (said += d.toString()))
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    for (let i = 0; i < 200 && !said.includes("ready"); i++) await new Promise((r) => setTimeout(r, 25))
    expect(said).toContain("ready")
    const r = await call(server, "ssh_download", { local_path: dl, remote_path: `${remote}/race` })
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
    child.kill()
    // The swap happened, whatever became of the download (its later renames find no private directory).
    expect(said, r.text).toContain("swapped")
    const modes = names.map((n) => `${n} ${(fs.statSync(path.join(victim, n)).mode & 0o7777).toString(8)} ${fs.readFileSync(path.join(victim, n), "utf8")}`)
    expect(modes.filter((m) => !m.endsWith(" 600 secret"))).toEqual([])
    // What did land is in the attacker's renamed directory, with the host's mode.
    for (const n of fs.readdirSync(`${dl}.real`).filter((n) => !n.startsWith("."))) {
      expect(fs.statSync(path.join(`${dl}.real`, n)).mode & 0o777).toBe(0o777)
    }
  })

  it("job log mirrors in --log-dir are 0600 in a 0700 directory, also one that existed with 0755", async () => {
    const dir = parent()
    for (const [logDir, existed] of [[path.join(dir, "new", "logs"), false], [path.join(dir, "old"), true]] as const) {
      if (existed) fs.mkdirSync(logDir, { mode: 0o755 })
      fs.chmodSync(dir, 0o755)
      const s = await startMcpServer({
        args: [...boxArgs(sshd), "--log-dir", logDir]
      })
      try {
        const spawned = await call(s, "ssh_spawn", { command: "echo hello-log" })
        expect(spawned.isError, spawned.text).toBe(false)
        const file = path.join(logDir, `${spawned.data.job_id as string}.log`)
        for (let i = 0; i < 100 && !(fs.existsSync(file) && fs.readFileSync(file, "utf8").includes("hello-log")); i++) await new Promise((r) => setTimeout(r, 50))
        expect(fs.readFileSync(file, "utf8")).toContain("hello-log")
        expect(fs.statSync(file).mode & 0o777, "log file").toBe(0o600)
        expect(fs.statSync(logDir).mode & 0o777, `log dir (existed: ${existed})`).toBe(0o700)
      } finally {
        await s.close()
      }
    }
  })
}, { extraConfig: `SetEnv PATH=${fakeBin}:/usr/local/bin:/usr/bin:/bin` })
