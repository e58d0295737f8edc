/** The sshd harness itself: what every other integration test relies on. */
import { execFileSync } from "node:child_process"
import ssh2 from "ssh2"
import { expect, it } from "vitest"
import { describeWithSshd } from "../support/sshd.js"

const run = (opts: ssh2.ConnectConfig, command: string, stdin?: string) =>
  new Promise<{ out: string; code: number | null }>((resolve, reject) => {
    const c = new ssh2.Client()
    c.on("error", reject)
    c.on("ready", () =>
      c.exec(command, (err, ch) => {
        if (err) return reject(err)
        let out = ""
        let code: number | null = null
        ch.on("data", (d: Buffer) => (out += d.toString()))
        ch.stderr.on("data", () => {})
        ch.on("exit", (c2: number | null) => (code = c2))
        ch.on("close", () => {
          c.end()
          resolve({ out, code })
        })
        if (stdin !== undefined) ch.end(stdin)
      }))
    c.connect(opts)
  })

describeWithSshd("sshd harness", (getSshd) => {
  it("accepts the client key and the password, for both users", async () => {
    const sshd = getSshd()
    const base = { host: sshd.host, port: sshd.port }
    const key = await run({ ...base, username: sshd.user.name, privateKey: await import("node:fs").then((fs) => fs.readFileSync(sshd.clientKeyPath)) }, "id -un")
    expect(key.out).toBe(`${sshd.user.name}\n`)
    const pw = await run({ ...base, username: sshd.nopasswdUser.name, password: sshd.nopasswdUser.password }, "id -un")
    expect(pw.out).toBe(`${sshd.nopasswdUser.name}\n`)
  })

  it("is trusted by the system ssh client through knownHostsPath", () => {
    const sshd = getSshd()
    const out = execFileSync("ssh", [
      "-i", sshd.clientKeyPath, "-o", `UserKnownHostsFile=${sshd.knownHostsPath}`, "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes", "-p", String(sshd.port), `${sshd.user.name}@127.0.0.1`, "echo ok"
    ], { encoding: "utf8" })
    expect(out).toBe("ok\n")
  })

  it("gives one user password sudo and the other passwordless sudo", async () => {
    const sshd = getSshd()
    const base = { host: sshd.host, port: sshd.port }
    const a = await run({ ...base, username: sshd.user.name, password: sshd.user.password }, "sudo -S -p '' id -u", `${sshd.user.password}\n`)
    expect(a.out).toBe("0\n")
    const noPw = await run({ ...base, username: sshd.user.name, password: sshd.user.password }, "sudo -n id -u")
    expect(noPw.code).not.toBe(0)
    const b = await run({ ...base, username: sshd.nopasswdUser.name, password: sshd.nopasswdUser.password }, "sudo -n id -u")
    expect(b.out).toBe("0\n")
  })

  it("restarts on the same port with the same host key", async () => {
    const sshd = getSshd()
    const port = sshd.port
    await sshd.restart()
    expect(sshd.port).toBe(port)
    const r = await run({ host: sshd.host, port, username: sshd.user.name, password: sshd.user.password }, "echo back")
    expect(r.out).toBe("back\n")
  })
})
