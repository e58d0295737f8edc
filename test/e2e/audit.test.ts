/**
 * The audit log (`--audit-log`, docs/CONFIG.md) end to end against a real sshd: a whole session
 * using every tool that can carry a secret, then the file: mode 0600, one JSON line per
 * call with its outcome, and none of the secrets anywhere in it. Also: concurrent calls
 * write whole lines, a file that cannot be written stops the next calls (fail-closed), a
 * file that cannot be opened stops the server, and without the flag nothing is written.
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, it } from "vitest"
import { call, CLIENT_MATRIX, MAIN, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2)}`
type AuditLine = Record<string, unknown> & { tool: string; outcome: string }

const readAudit = (file: string): Array<AuditLine> => {
  const text = fs.readFileSync(file, "utf8")
  expect(text.endsWith("\n")).toBe(true)
  return text.split("\n").slice(0, -1).map((l) => JSON.parse(l) as AuditLine)
}

const configFor = (sshd: Sshd, dir: string) => {
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
`)
  return config
}

/** A server whose tool calls are counted, to compare with the audit lines. */
const counted = (server: McpServerProcess) => {
  let calls = 0
  return {
    get calls() {
      return calls
    },
    call: (name: string, args: Record<string, unknown>) => {
      calls++
      return call(server, name, args)
    }
  }
}

const CELLS = CLIENT_MATRIX.filter((m) => m.name === "stdio/v2" || m.name === "http/v1")

for (const m of CELLS) describeWithSshd(`audit log over ${m.name}`, (getSshd) => {
  it("records every call of a session, with outcomes, and no secret", async () => {
    const sshd = getSshd()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-audit-"))
    const audit = path.join(dir, "audit.jsonl")
    fs.writeFileSync(audit, "", { mode: 0o644 })
    fs.chmodSync(audit, 0o644)
    const passphrase = unique("pp")
    const envSecret = unique("envsecret")
    const envPlain = unique("envplain")
    const stdinSecret = unique("stdinsecret")
    const execStdinSecret = unique("execstdin")
    const inlineSecret = unique("inline")
    const key = path.join(dir, "id_enc")
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", key])
    fs.appendFileSync(path.join(sshd.dir, "authorized_keys", sshd.user.name), fs.readFileSync(`${key}.pub`))
    const local = path.join(dir, "up.txt")
    fs.writeFileSync(local, "payload\n")
    const secrets = [sshd.user.password, `${sshd.user.password}x`, passphrase, envSecret, envPlain, stdinSecret, execStdinSecret, inlineSecret]

    const server = await startMcpServer({
      transport: m.transport, client: m.client, args: ["--config", configFor(sshd, dir), "--audit-log", audit], env: { PW: sshd.user.password }
    })
    const s = counted(server)
    try {
      const user = sshd.user.name
      expect((await s.call("ssh_connect", { host: "127.0.0.1", port: sshd.port, user, password: sshd.user.password, alias: "rt" })).isError).toBe(false)
      expect((await s.call("ssh_connect", { host: "127.0.0.1", port: sshd.port, user, key_path: key, passphrase, alias: "enc" })).isError).toBe(false)
      const bad = await s.call("ssh_connect", { host: "127.0.0.1", port: sshd.port, user, password: `${sshd.user.password}x`, alias: "bad" })
      expect(bad.data.error).toMatchObject({ code: "AUTH_FAILED" })
      const sudo = await s.call("ssh_exec", { command: "id -u", sudo: true, host: "pw", env: { API_TOKEN: envSecret, PLAIN: envPlain } })
      expect(sudo.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
      expect((await s.call("ssh_exec", { command: "exit 3", host: "rt" })).data).toMatchObject({ exit_status: 3 })
      await s.call("ssh_exec", { command: `DB_PASSWORD=${inlineSecret} true`, host: "enc" })
      await s.call("ssh_exec", { command: "cat >/dev/null", host: "rt", stdin: execStdinSecret })
      const job = await s.call("ssh_spawn", { command: "read -p 'Secret: ' s; echo \"got ${#s}\"", host: "rt", pty: true })
      const jobId = job.data.job_id as string
      await s.call("ssh_tail", { job_id: jobId, wait_ms: 3000, until: "Secret" })
      await s.call("ssh_send_stdin", { job_id: jobId, data: `${stdinSecret}\n`, secret: true })
      for (let i = 0; i < 20; i++) {
        const t = await s.call("ssh_tail", { job_id: jobId, wait_ms: 3000 })
        if (t.data.status !== "running") break
      }
      expect((await s.call("ssh_upload", { local_path: local, remote_path: "audit-up.txt", host: "rt" })).isError).toBe(false)
      expect((await s.call("ssh_download", { local_path: path.join(dir, "down.txt"), remote_path: "audit-up.txt", host: "rt" })).isError).toBe(false)
      expect((await s.call("ssh_exec", { command: "true", host: "nope" })).data.error).toMatchObject({ code: "HOST_NOT_FOUND" })
      expect((await s.call("ssh_tail", { job_id: "nope" })).data.error).toMatchObject({ code: "JOB_NOT_FOUND" })
      await s.call("ssh_list_hosts", {})
      await s.call("ssh_disconnect", { host: "enc" })
      // Concurrent calls with long lines (64 KiB commands): every line must stay whole.
      const pad = "x".repeat(64 * 1024)
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => s.call("ssh_exec", { command: `echo ${i} # ${pad}`, host: "rt" })))
      expect(many.every((r) => !r.isError)).toBe(true)
    } finally {
      await server.close()
    }

    expect(fs.statSync(audit).mode & 0o777).toBe(0o600)
    expect(server.stderr()).toMatch(/narrowed to 0600/)
    const text = fs.readFileSync(audit, "utf8")
    for (const secret of secrets) expect(text.includes(secret), "a secret is in the audit log").toBe(false)
    const lines = readAudit(audit)
    expect(lines.length).toBe(s.calls)
    const sessions = new Set(lines.map((l) => l.session))
    expect(sessions.size).toBe(1)
    expect([...sessions][0]).toEqual(m.transport === "stdio" ? expect.stringMatching(/^stdio-/) : expect.stringMatching(/^[0-9a-f-]{36}$/))
    for (const l of lines) {
      expect(Number.isNaN(Date.parse(l.time as string))).toBe(false)
      expect(typeof l.duration_ms).toBe("number")
    }
    const byTool = (tool: string) => lines.filter((l) => l.tool === tool)
    expect(byTool("ssh_connect").map((l) => [l.host, l.outcome])).toEqual([["rt", "ok"], ["enc", "ok"], ["bad", "AUTH_FAILED"]])
    expect(byTool("ssh_connect")[0]).toMatchObject({ args: { password: "[redacted]", user: sshd.user.name } })
    expect(byTool("ssh_connect")[1]).toMatchObject({ args: { passphrase: "[redacted]", key_path: key } })
    const execs = byTool("ssh_exec")
    expect(execs[0]).toMatchObject({ host: "pw", command: "id -u", args: { sudo: true, env: { API_TOKEN: "[redacted]", PLAIN: "[redacted]" } }, outcome: "ok", exit_status: 0 })
    expect(execs[1]).toMatchObject({ host: "rt", command: "exit 3", outcome: "ok", exit_status: 3 })
    expect(execs[2]).toMatchObject({ host: "enc", command: "DB_PASSWORD=[redacted] true" })
    expect(execs[3]).toMatchObject({ args: { stdin_bytes: execStdinSecret.length } })
    expect(execs[4]).toMatchObject({ host: "nope", outcome: "HOST_NOT_FOUND" })
    expect(execs.slice(5).map((l) => (l.command as string).slice(0, 7)).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `echo ${i} `))
    expect(byTool("ssh_spawn")[0]).toMatchObject({ host: "rt", job_id: expect.any(String), args: { pty: true }, outcome: "ok" })
    expect(byTool("ssh_send_stdin")[0]).toMatchObject({ args: { data_bytes: stdinSecret.length + 1, secret: true }, outcome: "ok" })
    expect(byTool("ssh_tail").at(-1)).toMatchObject({ job_id: "nope", outcome: "JOB_NOT_FOUND" })
    expect(byTool("ssh_upload")[0]).toMatchObject({ host: "rt", paths: { local, remote: "audit-up.txt" }, result: { bytes: 8 }, outcome: "ok" })
    expect(byTool("ssh_download")[0]).toMatchObject({ paths: { local: path.join(dir, "down.txt"), remote: "audit-up.txt" }, outcome: "ok" })
    expect(byTool("ssh_disconnect")[0]).toMatchObject({ host: "enc", outcome: "ok" })
  })
})

describeWithSshd("audit log failures", (getSshd) => {
  it("refuses calls while the log cannot be written, and writes the kept records once it can", async () => {
    const sshd = getSshd()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-auditfail-"))
    const audit = path.join(dir, "audit.jsonl")
    const server = await startMcpServer({ args: ["--config", configFor(sshd, dir), "--audit-log", audit], env: { PW: sshd.user.password } })
    try {
      expect((await call(server, "ssh_exec", { command: "echo one", host: "pw" })).data).toMatchObject({ exit_status: 0 })
      expect(readAudit(audit).map((l) => l.command)).toEqual(["echo one"])
      // The path becomes something that cannot be appended to.
      fs.rmSync(audit)
      fs.mkdirSync(audit)
      // The call in flight has run: it returns its real result...
      expect((await call(server, "ssh_exec", { command: "echo two", host: "pw" })).data).toMatchObject({ stdout: "two\n" })
      // ...and the next one does not run at all.
      const refused = await call(server, "ssh_exec", { command: "touch /tmp/audit-must-not-exist-$PPID", host: "pw" })
      expect(refused.data.error).toMatchObject({ code: "AUDIT_LOG_FAILED" })
      expect(server.stderr()).toMatch(/audit log .*cannot write/)
      fs.rmdirSync(audit)
      expect((await call(server, "ssh_exec", { command: "echo four", host: "pw" })).data).toMatchObject({ stdout: "four\n" })
    } finally {
      await server.close()
    }
    const lines = readAudit(audit)
    expect(lines.map((l) => [l.command, l.outcome])).toEqual([
      ["echo two", "ok"],
      ["touch /tmp/audit-must-not-exist-$PPID", "AUDIT_LOG_FAILED"],
      ["echo four", "ok"]
    ])
    expect(fs.statSync(audit).mode & 0o777).toBe(0o600)
    expect((await sshd.exec("ls /tmp | grep -c audit-must-not-exist || true")).stdout.trim()).toBe("0")
  })

  it("writes nothing without --audit-log", async () => {
    const sshd = getSshd()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-noaudit-"))
    const config = configFor(sshd, dir)
    const server = await startMcpServer({ args: ["--config", config], env: { PW: sshd.user.password } })
    try {
      expect((await call(server, "ssh_exec", { command: "true", host: "pw" })).isError).toBe(false)
    } finally {
      await server.close()
    }
    expect(fs.readdirSync(dir)).toEqual(["config.toml"])
    expect(fs.readdirSync(server.home, { recursive: true })).toEqual([])
  })
})

const runMain = (args: Array<string>) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-auditerr-"))
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", HOME: home } }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? null, stderr })
    })
  })

it("does not start when the audit log cannot be opened: a directory, a symlink", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-auditopen-"))
  const link = path.join(dir, "link.jsonl")
  fs.symlinkSync(path.join(dir, "target.jsonl"), link)
  for (const target of [dir, link]) {
    const r = await runMain(["--audit-log", target])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--audit-log ${target}: cannot open the audit log`)
  }
  expect(fs.existsSync(path.join(dir, "target.jsonl"))).toBe(false)
})
