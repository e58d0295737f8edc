/**
 * The host's side of a single-file tar upload (`unpackOneCommand`) against a real sshd, fed
 * a tar stream slowly so the file grows while it is hashed: the follower is Python where the
 * host has it (with OpenSSL's sha256), GNU `tail -F` into the hasher otherwise, and also
 * when Python is missing, lacks OpenSSL's sha256, or fails part-way. The digest printed is
 * the file's whatever the path. A `python3` of our own leads the host's PATH and logs each
 * start before it runs the host's real one.
 */
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type ssh2 from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { unpackOneCommand } from "../../src/transfers/tarCommands.js"
import { type BareScratch, closeScratch, execBare, openScratch } from "../support/bareSsh.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const MiB = 1024 * 1024

/** What stands in for `python3`: sitecustomize.py that breaks hashlib's sha256 in the way named. */
const SITES = {
  /** hashlib as built without OpenSSL: sha256 is Python's own (any other name); a wrong digest should it be used. */
  noOpenssl: "import hashlib\ndef sha256(*a, **k):\n    return hashlib.md5()\nhashlib.sha256 = sha256\n",
  /** OpenSSL's name, but the third update raises: Python dies with part of the file hashed. */
  partWay: "import hashlib\n_real = hashlib.sha256\nclass Broken:\n    def __init__(self):\n        self.n = 0\n        self.h = _real()\n" +
    "    def update(self, b):\n        self.n += 1\n        if self.n > 2:\n            raise OSError('broken part-way')\n        self.h.update(b)\n" +
    "    def hexdigest(self):\n        return self.h.hexdigest()\ndef openssl_sha256(*a, **k):\n    return Broken()\nhashlib.sha256 = openssl_sha256\n"
} as const

describeWithSshd("a single file's tar upload hashed on the host as it lands, against a real sshd", (getSshd) => {
  let scratch: BareScratch | undefined
  let sshd: Sshd
  let client: ssh2.Client
  let local: string
  let remote: string
  let archive: Buffer
  let digest: string
  let python: string
  beforeAll(async () => {
    scratch = await openScratch(getSshd(), "follower")
    ;({ sshd, client, local, remote } = scratch)
    const data = randomBytes(8 * MiB + 4099)
    fs.writeFileSync(path.join(local, "f.bin"), data)
    digest = createHash("sha256").update(data).digest("hex")
    archive = execFileSync("tar", ["-c", "-b", "256", "-f", "-", "f.bin"], { cwd: local, maxBuffer: 64 * MiB })
    python = (await run("command -v python3 || true", Buffer.alloc(0))).stdout.trim()
    if (python === "") throw new Error("the host has no python3: the Python follower cannot be tested")
  })
  afterAll(() => closeScratch(scratch))

  /** Run `command` on the host with `input` written in 256 KiB pieces, 3 ms apart (the file grows while it is followed). */
  const run = (command: string, input: Buffer) =>
    execBare(client, command).then((ch) =>
      new Promise<{ stdout: string; stderr: string; code: number }>((resolve, reject) => {
        let stdout = ""
        let stderr = ""
        ch.on("data", (d: Buffer) => (stdout += d.toString()))
        ch.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
        ch.on("close", (code: number) => resolve({ stdout, stderr, code }))
        ch.on("error", reject)
        void (async () => {
          for (let at = 0; at < input.length; at += 256 * 1024) {
            if (!ch.write(input.subarray(at, at + 256 * 1024))) await new Promise((r) => ch.once("drain", r))
            await new Promise((r) => setTimeout(r, 3))
          }
          ch.end()
        })()
      })
    )

  /** Our `python3` first on PATH: logs its start to `log`, then runs the host's python3 (with `site` on its path) or exits 127. */
  const upload = async (name: string, stand: "real" | "missing" | keyof typeof SITES) => {
    const bin = `${remote}/${name}-bin`
    const log = `${remote}/${name}.log`
    const here = path.join(local, `${name}-bin`)
    fs.mkdirSync(here)
    const site = stand === "real" || stand === "missing" ? "" : `PYTHONPATH=${bin} `
    const body = stand === "missing" ? "exit 127" : `${site}exec ${python} "$@"`
    fs.writeFileSync(path.join(here, "python3"), `#!/bin/sh\necho started >> ${log}\n${body}\n`, { mode: 0o755 })
    if (stand !== "real" && stand !== "missing") fs.writeFileSync(path.join(here, "sitecustomize.py"), SITES[stand])
    expect((await sshd.exec(`cp -r ${here} ${bin} && chown -R ${sshd.user.name} ${bin}`)).code).toBe(0)
    const temp = `.f.bin.mcpssh-${name}.tmp`
    const r = await run(`PATH=${bin}:$PATH; export PATH; ${unpackOneCommand(remote, temp, "f.bin")}`, archive)
    const landed = (await sshd.exec(`sha256sum < ${remote}/${temp}/f.bin; cat ${log}; rm -rf ${remote}/${temp}`)).stdout
    return { ...r, landed, started: landed.includes("started") }
  }

  it("Python follows the file as it grows and prints its digest", async () => {
    const r = await upload("real", "real")
    expect(r).toMatchObject({ code: 0, stdout: `${digest} *./f.bin\n`, started: true })
    expect(r.landed).toContain(`${digest}  -`)
  })

  it("without python3 on the host, tail -F into the hasher prints the same digest", async () => {
    const r = await upload("missing", "missing")
    expect(r).toMatchObject({ code: 0, stdout: `${digest} *./f.bin\n`, started: true })
  })

  it("a python3 whose sha256 is not OpenSSL's steps aside for tail -F", async () => {
    const r = await upload("noopenssl", "noOpenssl")
    expect(r).toMatchObject({ code: 0, stdout: `${digest} *./f.bin\n`, started: true })
  })

  it("Python failing part-way: tail reads the file again from its first byte, same digest", async () => {
    const r = await upload("partway", "partWay")
    expect(r).toMatchObject({ code: 0, stdout: `${digest} *./f.bin\n`, started: true })
  })
})
