/**
 * An upload's lanes (src/transfers/rangeSend.ts, the host's commands in rangeCommands.ts)
 * against a real sshd, without the server around them, with the hasher started `atOnce` (as
 * the server does once it knows the link's round trip): it creates the temporary file without
 * being told `go`, the file placed is verified; the end of its input before the digest (a
 * cancel, a dropped connection) removes the file, and nothing of it runs on.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import ssh2 from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { hasherCommand, writerCommand } from "../../src/transfers/rangeCommands.js"
import { sendRanges } from "../../src/transfers/rangeSend.js"
import { type BareScratch, closeScratch, execBare, openScratch } from "../support/bareSsh.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const MiB = 1024 * 1024
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")

const exec = (client: ssh2.Client, command: string) => execBare(client, command, {})

describeWithSshd("an upload's lanes with the hasher started at once, against a real sshd", (getSshd) => {
  let scratch: BareScratch | undefined
  let sshd: Sshd
  let client: ssh2.Client
  let local: string
  let remote: string
  beforeAll(async () => {
    scratch = await openScratch(getSshd(), "rangesend")
    ;({ sshd, client, local, remote } = scratch)
  })
  afterAll(() => closeScratch(scratch))

  const leftovers = () => sshd.exec(`ls -A ${remote}; pgrep -u ${sshd.user.name} -f 'mcpssh-[0-9a-f]+\\.tmp' || true`).then((r) => r.stdout.trim())

  it("the hasher and the lanes open together, not told go: the file is placed, verified, its mode set, nothing left", async () => {
    const data = randomBytes(5 * MiB + 77)
    const file = path.join(local, "up.bin")
    fs.writeFileSync(file, data)
    const temp = ".up.bin.mcpssh-0123456789ab.tmp"
    const [hasher, ...lanes] = await Promise.all([
      exec(client, hasherCommand(remote, temp, "up.bin", { mkdirs: true, overwrite: true, mode: 0o640, atOnce: true })),
      ...Array.from({ length: 3 }, () => exec(client, writerCommand(`${remote}/${temp}`)))
    ])
    const r = await sendRanges({ lanes, hasher: hasher!, file, size: data.length, chunk: MiB, onBytes: () => {}, atOnce: true })
    expect(r).toEqual({ _tag: "Sent", placed: true, sent: { bytes: data.length, sha256Local: sha(data), sha256Remote: sha(data) } })
    expect((await sshd.exec(`sha256sum < ${remote}/up.bin; stat -c %a ${remote}/up.bin`)).stdout).toBe(`${sha(data)}  -\n640\n`)
    await sshd.exec(`rm -f ${remote}/up.bin`)
    expect(await leftovers()).toBe("")
  })

  it("its input ending before the digest (a cancel) removes the file it created at once; nothing of it runs on", async () => {
    const temp = ".gone.bin.mcpssh-ba9876543210.tmp"
    const hasher = await exec(client, hasherCommand(remote, temp, "gone.bin", { mkdirs: true, overwrite: true, mode: 0o600, atOnce: true }))
    let out = ""
    hasher.on("data", (d: Buffer) => (out += d.toString()))
    // Never told go: it creates the file all the same.
    for (let i = 0; i < 200 && out !== "ok\nready\n"; i++) await new Promise((r) => setTimeout(r, 10))
    expect(out).toBe("ok\nready\n")
    expect((await sshd.exec(`ls -A ${remote}`)).stdout.trim()).toBe(temp)
    hasher.close()
    let left = "x"
    for (let i = 0; i < 100 && left !== ""; i++) {
      left = await leftovers()
      if (left !== "") await new Promise((r) => setTimeout(r, 50))
    }
    expect(left).toBe("")
  })
})
