/**
 * OpenSSH user certificates against a real sshd that trusts a CA (`TrustedUserCAKeys`) and
 * whose authorized_keys hold none of the keys (issue #28): `<key>-cert.pub` beside a key,
 * CertificateFile elsewhere, and a certificate held by ssh-agent (IdentityAgent), for
 * ed25519, ECDSA and RSA keys signed with `ssh-keygen -s`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-ca-"))
fs.chmodSync(caDir, 0o755)
const ca = path.join(caDir, "user_ca")
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "mcpssh-test-ca", "-f", ca])

describeWithSshd("user certificates", (getSshd) => {
  let sshd: Sshd
  let home: string
  let agent: ChildProcess | undefined
  const keys = path.join(caDir, "keys")

  /** A new key pair; with `sign`, certified by the CA for the test user (the cert at `<key>-cert.pub`). */
  const keyPair = (name: string, type: string, sign: boolean) => {
    const key = path.join(keys, name)
    execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-C", name, "-f", key])
    if (sign) execFileSync("ssh-keygen", ["-q", "-s", ca, "-I", name, "-n", sshd.user.name, "-V", "-5m:+1h", `${key}.pub`])
    return key
  }

  beforeAll(() => {
    sshd = getSshd()
    fs.mkdirSync(keys, { mode: 0o700 })
    home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-certs-"))
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 })
    fs.copyFileSync(sshd.knownHostsPath, path.join(home, ".ssh", "known_hosts"))
    // The certified keys are in no authorized_keys: only the certificate can let them in.
    const host = (name: string, ...lines: Array<string>) =>
      [`Host ${name}`, "  HostName 127.0.0.1", `  Port ${sshd.port}`, `  User ${sshd.user.name}`, "  IdentitiesOnly yes", ...lines.map((l) => `  ${l}`)]
    const ed = keyPair("ed", "ed25519", true)
    const ec = keyPair("ec", "ecdsa", true)
    const rsa = keyPair("rsa", "rsa", true)
    const moved = keyPair("moved", "ed25519", true)
    fs.mkdirSync(path.join(keys, "certs"))
    fs.renameSync(`${moved}-cert.pub`, path.join(keys, "certs", "moved.cert"))
    const plain = keyPair("plain", "ed25519", false)
    fs.writeFileSync(path.join(home, ".ssh", "config"), [
      ...host("cert-ed", `IdentityFile ${ed}`),
      ...host("cert-ec", `IdentityFile ${ec}`),
      ...host("cert-rsa", `IdentityFile ${rsa}`),
      ...host("cert-file", `IdentityFile ${moved}`, `CertificateFile ${path.join(keys, "certs", "moved.cert")}`),
      ...host("no-cert", `IdentityFile ${plain}`),
      ""
    ].join("\n"))
  })
  afterAll(() => {
    agent?.kill()
  })

  for (const alias of ["cert-ed", "cert-ec", "cert-rsa", "cert-file"]) {
    it(`${alias}: authenticates with the certificate`, async () => {
      const server = await startMcpServer({ home })
      try {
        const r = await call(server, "ssh_connect", { host: alias })
        expect(r.isError, r.text).toBe(false)
        expect(r.data.auth_method).toBe("publickey")
        const who = await call(server, "ssh_exec", { host: alias, command: "id -un" })
        expect(who.data.stdout).toBe(`${sshd.user.name}\n`)
        expect(fs.readFileSync(sshd.logPath, "utf8")).toMatch(/Accepted publickey for mcpssh_a .* (ED25519|ECDSA|RSA)-CERT/)
      } finally {
        await server.close()
      }
    })
  }

  it("a key without a certificate is refused by this sshd (the control)", async () => {
    const server = await startMcpServer({ home })
    try {
      const r = await call(server, "ssh_connect", { host: "no-cert" })
      expect(r.data).toMatchObject({ error: { code: "AUTH_FAILED" } })
    } finally {
      await server.close()
    }
  })

  it("authenticates with a certificate held by ssh-agent, named by IdentityAgent", async () => {
    const sock = path.join(caDir, "agent.sock")
    agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" })
    for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100))
    const held = keyPair("held", "ed25519", true)
    // ssh-add loads held-cert.pub with the key; then neither is on disk any more.
    execFileSync("ssh-add", [held], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" })
    expect(execFileSync("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: "utf8" })).toMatch(/ED25519-CERT/)
    for (const f of [held, `${held}.pub`, `${held}-cert.pub`]) fs.rmSync(f)
    const agentHome = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-certs-agent-"))
    fs.mkdirSync(path.join(agentHome, ".ssh"), { mode: 0o700 })
    fs.copyFileSync(sshd.knownHostsPath, path.join(agentHome, ".ssh", "known_hosts"))
    fs.writeFileSync(path.join(agentHome, ".ssh", "config"), [
      "Host by-agent",
      "  HostName 127.0.0.1",
      `  Port ${sshd.port}`,
      `  User ${sshd.user.name}`,
      `  IdentityAgent ${sock}`,
      ""
    ].join("\n"))
    // No SSH_AUTH_SOCK: the agent is found through IdentityAgent only.
    const server = await startMcpServer({ home: agentHome })
    try {
      const r = await call(server, "ssh_connect", { host: "by-agent" })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.auth_method).toBe("agent")
      expect(r.data.ignored_config).toBeUndefined()
      const who = await call(server, "ssh_exec", { host: "by-agent", command: "id -un" })
      expect(who.data.stdout).toBe(`${sshd.user.name}\n`)
    } finally {
      await server.close()
    }
  })
}, { extraConfig: `TrustedUserCAKeys ${ca}.pub` })
