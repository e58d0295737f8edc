/**
 * A download's lanes (src/transfers/rangeReceive.ts, the host's commands in rangeCommands.ts)
 * against a real sshd, without the server around them: odd sizes (0 B, 1 B, a size that is
 * no multiple of the range size, several ranges per lane, ranges of several pieces) arrive
 * byte-exact with both digests equal and the mode set; a file that shrank or grew since its
 * size was taken fails verification (and nothing hangs); a cancel ends it at once.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import ssh2 from "ssh2"
import { afterAll, beforeAll, expect, it } from "vitest"
import { readerCommand, sourceHasherCommand } from "../../src/transfers/rangeCommands.js"
import { rangeReceiver, type ReceiveRanges } from "../../src/transfers/rangeReceive.js"
import { type BareScratch, closeScratch, execBare, openScratch } from "../support/bareSsh.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const MiB = 1024 * 1024
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex")

const exec = (client: ssh2.Client, command: string) => execBare(client, command, { window: 4 * MiB })

describeWithSshd("a download's lanes against a real sshd", (getSshd) => {
  let scratch: BareScratch | undefined
  let sshd: Sshd
  let client: ssh2.Client
  let local: string
  let remote: string
  beforeAll(async () => {
    scratch = await openScratch(getSshd(), "rangerecv")
    ;({ sshd, client, local, remote } = scratch)
  })
  afterAll(() => closeScratch(scratch))

  /**
   * Put `data` on the host (mode 0604); receive it over `lanes` lanes (opened while the hasher
   * answers, as the server does) into a fresh local file.
   */
  const receive = async (name: string, data: Buffer, lanes: number, chunk: number, o: Partial<ReceiveRanges> = {}) => {
    const file = `${remote}/${name}`
    fs.writeFileSync(path.join(local, `${name}.src`), data)
    await sshd.exec(`cp ${path.join(local, `${name}.src`)} ${file} && chmod 604 ${file} && chown ${sshd.user.name} ${file}`)
    const temp = path.join(local, name)
    const receiver = rangeReceiver(await exec(client, sourceHasherCommand(file)))
    const chs = Array.from({ length: lanes }, () => exec(client, readerCommand(file)))
    const verdict = await receiver.verdict()
    expect(verdict).toEqual({ ok: true, size: data.length, mode: 0o604 })
    let ticked = 0
    const r = await receiver.receive({ lanes: chs, temp, size: data.length, chunk, mode: 0o640, onBytes: (n: number) => (ticked += n), ...o })
    return { r, temp, ticked }
  }

  it("receives odd sizes byte-exact over several lanes, both digests equal, the mode set through the descriptor", async () => {
    const cases: Array<[string, number, number, number]> = [
      ["empty", 0, 3, MiB],
      ["one", 1, 2, MiB],
      ["exact", 2 * MiB, 2, MiB],
      // Several ranges per lane, the last one short.
      ["odd", 5 * MiB + 7, 2, MiB],
      // Ranges of several pieces, the last range a few bytes.
      ["pieces", 6 * MiB + 3, 3, 2 * MiB]
    ]
    for (const [name, size, lanes, chunk] of cases) {
      const data = randomBytes(size)
      const { r, temp, ticked } = await receive(name, data, lanes, chunk)
      expect(r, name).toEqual({ bytes: size, sha256Local: sha(data), sha256Remote: sha(data) })
      expect(fs.readFileSync(temp).equals(data), name).toBe(true)
      expect(fs.statSync(temp).mode & 0o777, name).toBe(0o640)
      expect(ticked, name).toBe(size)
    }
  })

  it("fails verification when the file shrank or grew since its size was taken, without waiting forever", async () => {
    const data = randomBytes(3 * MiB + 100)
    // Told a larger size: the lanes pad what the file no longer has with zeros, the host hashes the file as it is.
    const shrank = await receive("shrank", data, 2, MiB, { size: 4 * MiB })
    expect(shrank.r).toMatchObject({ bytes: 4 * MiB, sha256Remote: sha(data) })
    expect(shrank.r.sha256Local).not.toBe(sha(data))
    const grew = await receive("grew", data, 2, MiB, { size: 2 * MiB })
    expect(grew.r).toEqual({ bytes: 2 * MiB, sha256Local: sha(data.subarray(0, 2 * MiB)), sha256Remote: sha(data) })
  })

  it("says when the host cannot do it (a directory, a symlink, nothing there)", async () => {
    await sshd.exec(`ln -sf ${remote}/one ${remote}/link`)
    for (const file of [remote, `${remote}/link`, `${remote}/none`]) {
      const receiver = rangeReceiver(await exec(client, sourceHasherCommand(file)))
      expect(await receiver.verdict(), file).toEqual({ ok: false, why: "not-file" })
    }
  })

  it("a cancel ends it with an error at once, every write settled", async () => {
    const controller = new AbortController()
    let seen = 0
    const pending = receive("cancelled", randomBytes(48 * MiB), 2, MiB, {
      signal: controller.signal,
      onBytes: (n) => {
        seen += n
        if (seen >= 2 * MiB) controller.abort()
      }
    })
    await expect(pending).rejects.toThrow(/cancelled/)
  })
})
