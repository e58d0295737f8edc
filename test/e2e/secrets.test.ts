/**
 * A full session that handles every kind of secret, then a search for them in every
 * result, error, log line on stderr and job log in --log-dir: none may be found.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, it } from "vitest"
import { call, startMcpServer } from "../support/mcp.js"
import { describeWithSshd } from "../support/sshd.js"

describeWithSshd("secrets", (getSshd) => {
  it("never appear in results, errors, stderr or job logs", async () => {
    const sshd = getSshd()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-secrets-"))
    const logDir = path.join(dir, "logs")
    const passphrase = "pp-" + Math.random().toString(36).slice(2)
    const stdinSecret = "stdin-" + Math.random().toString(36).slice(2)
    const key = path.join(dir, "id_enc")
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", key])
    fs.appendFileSync(path.join(sshd.dir, "authorized_keys", sshd.user.name), fs.readFileSync(`${key}.pub`))
    const config = path.join(dir, "config.toml")
    fs.writeFileSync(config, `
[hosts.pw]
host = "127.0.0.1"
port = ${sshd.port}
user = "${sshd.user.name}"
password_env = "PW"
sudo_password_env = "PW"

[server]
known_hosts = "${sshd.knownHostsPath}"
log_dir = "${logDir}"
log_level = "debug"
`)
    const secrets = [sshd.user.password, passphrase, stdinSecret]
    const server = await startMcpServer({ args: ["--config", config], env: { PW: sshd.user.password } })
    const texts: Array<string> = []
    const record = async (name: string, args: Record<string, unknown>) => {
      const r = await call(server, name, args)
      texts.push(r.text, JSON.stringify(r.data))
      return r
    }
    try {
      await record("ssh_exec", { command: "echo hello", host: "pw" })
      await record("ssh_connect", { host: "127.0.0.1", port: sshd.port, user: sshd.user.name, key_path: key, passphrase, alias: "enc" })
      await record("ssh_connect", { host: "127.0.0.1", port: sshd.port, user: sshd.user.name, password: sshd.user.password, alias: "rt" })
      await record("ssh_connect", { host: "127.0.0.1", port: sshd.port, user: sshd.user.name, password: `${sshd.user.password}x`, alias: "bad" })
      await record("ssh_connect", { host: "127.0.0.1", port: sshd.port, user: sshd.user.name, key_path: key, passphrase: `${passphrase}x`, alias: "bad2" })
      await record("ssh_exec", { command: "id -u", sudo: true, host: "pw" })
      await record("ssh_exec", { command: "id -u", sudo: true, host: "pw", pty: true })
      const job = await record("ssh_spawn", { command: "read -p 'Secret: ' s; echo \"got $s\"", host: "rt", pty: true })
      await record("ssh_tail", { job_id: job.data.job_id, wait_ms: 2000 })
      await record("ssh_send_stdin", { job_id: job.data.job_id, data: `${stdinSecret}\n`, secret: true })
      await record("ssh_tail", { job_id: job.data.job_id, wait_ms: 3000 })
      await record("ssh_tail", { job_id: job.data.job_id, wait_ms: 3000 })
      const sudoJob = await record("ssh_spawn", { command: "id -u; sleep 1", sudo: true, host: "pw" })
      await record("ssh_tail", { job_id: sudoJob.data.job_id, wait_ms: 3000 })
      await record("ssh_list_hosts", {})
      await record("ssh_list_jobs", {})
      await record("ssh_disconnect", { host: "rt" })
    } finally {
      await server.close()
    }
    const logs = fs.existsSync(logDir) ? fs.readdirSync(logDir).map((f) => fs.readFileSync(path.join(logDir, f), "utf8")) : []
    expect(logs.length).toBeGreaterThanOrEqual(2)
    expect(logs.join("\n")).toContain("got ********")
    const everything = [...texts, server.stderr(), ...logs].join("\n")
    for (const secret of secrets) expect(everything.includes(secret), `a secret leaked`).toBe(false)
  })
})
