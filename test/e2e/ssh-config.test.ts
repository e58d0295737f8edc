/**
 * Hosts and auth the way OpenSSH users expect: ~/.ssh/config aliases, ProxyJump
 * through a real jump sshd, ssh-agent, encrypted keys.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, startSshd } from "../support/sshd.js"

describeWithSshd("OpenSSH-style hosts and auth", (getSshd) => {
  let target: Sshd
  let home: string
  let jump: Sshd

  beforeAll(async () => {
    jump = getSshd()
    target = await startSshd()
    home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-sshcfg-"))
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 })
    fs.writeFileSync(path.join(home, ".ssh", "known_hosts"),
      fs.readFileSync(jump.knownHostsPath, "utf8") + fs.readFileSync(target.knownHostsPath, "utf8"))
    fs.writeFileSync(path.join(home, ".ssh", "config"), `
Host jumpbox
  HostName 127.0.0.1
  Port ${jump.port}
  User ${jump.user.name}
  IdentityFile ${jump.clientKeyPath}

Host direct
  HostName 127.0.0.1
  Port ${target.port}
  User ${target.nopasswdUser.name}
  IdentityFile ${target.clientKeyPath}

Host behind
  HostName 127.0.0.1
  Port ${target.port}
  User ${target.user.name}
  IdentityFile ${target.clientKeyPath}
  ProxyJump jumpbox

Host *
  ServerAliveInterval 30
`)
  })
  afterAll(async () => {
    await target?.stop()
  })

  it("connects to a ~/.ssh/config alias with its HostName, Port, User and IdentityFile", async () => {
    const server = await startMcpServer({ home })
    try {
      const r = await call(server, "ssh_connect", { host: "direct" })
      expect(r.isError, r.text).toBe(false)
      expect(r.data).toMatchObject({ alias: "direct", address: "127.0.0.1", port: target.port, user: target.nopasswdUser.name, auth_method: "publickey" })
      const who = await call(server, "ssh_exec", { command: "id -un" })
      expect(who.data.stdout).toBe(`${target.nopasswdUser.name}\n`)
      const list = await call(server, "ssh_list_hosts", {})
      expect(list.data.hosts).toEqual([expect.objectContaining({ alias: "direct", source: "ssh-config" })])
    } finally {
      await server.close()
    }
  })

  it("goes through ProxyJump: the target's TCP connection comes from the jump host's sshd", async () => {
    const server = await startMcpServer({ home })
    try {
      const r = await call(server, "ssh_connect", { host: "behind" })
      expect(r.isError, r.text).toBe(false)
      const who = await call(server, "ssh_exec", { command: "id -un; sleep 1", host: "behind" })
      expect(who.data.stdout).toBe(`${target.user.name}\n`)
      // Who holds the TCP connection to the target's port? Through the jump host it is that sshd, not node.
      const ss = execFileSync("ss", ["-tnpH", "state", "established", `( dport = :${target.port} )`], { encoding: "utf8" })
      expect(ss).toMatch(/sshd/)
      expect(ss).not.toMatch(/"node"/)
    } finally {
      await server.close()
    }
  })

  it("authenticates with ssh-agent", async () => {
    const sock = path.join(home, "agent.sock")
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" })
    try {
      for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100))
      execFileSync("ssh-add", [target.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" })
      const emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-agent-"))
      const server = await startMcpServer({ home: emptyHome, env: { SSH_AUTH_SOCK: sock }, args: ["--known-hosts", target.knownHostsPath] })
      try {
        const r = await call(server, "ssh_connect", { host: "127.0.0.1", port: target.port, user: target.user.name })
        expect(r.isError, r.text).toBe(false)
        expect(r.data.auth_method).toBe("agent")
      } finally {
        await server.close()
      }
    } finally {
      agent.kill()
    }
  })

  it("uses an encrypted key with its passphrase from an env var, and names a wrong one", async () => {
    const key = path.join(home, "id_encrypted")
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse", "-f", key])
    fs.appendFileSync(path.join(target.dir, "authorized_keys", target.user.name), fs.readFileSync(`${key}.pub`))
    const args = ["--known-hosts", target.knownHostsPath, "--host", `enc=127.0.0.1:${target.port}`, "--user", target.user.name,
      "--key", key, "--key-passphrase-env", "KEY_PP"]
    const good = await startMcpServer({ args, env: { KEY_PP: "correct horse" } })
    try {
      const r = await call(good, "ssh_exec", { command: "id -un" })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.stdout).toBe(`${target.user.name}\n`)
    } finally {
      await good.close()
    }
    const bad = await startMcpServer({ args, env: { KEY_PP: "wrong staple" } })
    try {
      const r = await call(bad, "ssh_exec", { command: "id -un" })
      expect(r.data).toMatchObject({ error: { code: "AUTH_FAILED" } })
      expect(r.text).toMatch(/cannot decrypt key .*id_encrypted.*passphrase/)
      expect(r.text).not.toContain("wrong staple")
      // At runtime too, with the passphrase as a (redacted) argument.
      const c = await call(bad, "ssh_connect", {
        host: "127.0.0.1", port: target.port, user: target.user.name, key_path: key, passphrase: "correct horse", alias: "rt"
      })
      expect(c.isError, c.text).toBe(false)
    } finally {
      await bad.close()
    }
  })
})
