/**
 * No weak algorithms offered (issue 13, point 13): what our client proposes, read from
 * sshd's DEBUG3 log of the peer's KEXINIT; and a legacy server that only has `ssh-rsa`
 * host-key signatures, refused by default and reached with the operator's override.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, expect, it } from "vitest"
import { call, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

/** The client's proposal as sshd logged it: "KEX algorithms", "host key algorithms", "ciphers ctos", "MACs ctos"… */
const clientProposal = (log: string): Record<string, Array<string>> => {
  const lines = log.split("\n")
  const start = lines.findIndex((l) => l.includes("peer client KEXINIT proposal"))
  if (start < 0) throw new Error(`no client KEXINIT proposal in sshd's log:\n${log.slice(-2000)}`)
  const out: Record<string, Array<string>> = {}
  for (const line of lines.slice(start + 1, start + 12)) {
    const m = /debug2: ([A-Za-z ]+): (\S*)/.exec(line)
    if (m !== null) out[m[1]!] = m[2]!.split(",")
  }
  return out
}

describeWithSshd("the algorithms we offer", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })

  it("contain no ssh-rsa (SHA-1) signatures, no hmac-sha1, no SHA-1 key exchange, no CBC cipher", async () => {
    const offset = fs.statSync(sshd.logPath).size
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    try {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      expect(r.isError, r.text).toBe(false)
    } finally {
      await server.close()
    }
    const proposal = clientProposal(fs.readFileSync(sshd.logPath, "utf8").slice(offset))
    const all = (name: string) => {
      expect(proposal[name], name).toBeDefined()
      return proposal[name]!
    }
    expect(all("host key algorithms")).not.toContain("ssh-rsa")
    expect(all("host key algorithms")).not.toContain("ssh-dss")
    expect(all("host key algorithms")).toContain("ssh-ed25519")
    for (const dir of ["ctos", "stoc"]) {
      expect(all(`MACs ${dir}`).filter((m) => /sha1|md5|ripemd/.test(m))).toEqual([])
      expect(all(`ciphers ${dir}`).filter((c) => /cbc|arcfour|3des|blowfish|cast/.test(c))).toEqual([])
    }
    expect(all("KEX algorithms").filter((k) => /sha1/.test(k))).toEqual([])
  })
}, { logLevel: "DEBUG3" })

describeWithSshd("a legacy server whose host key signs with ssh-rsa only", (getSshd) => {
  let sshd: Sshd
  let knownHosts: string
  beforeAll(() => {
    sshd = getSshd()
    knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
    fs.writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${sshd.rsaHostKey!.publicLine}\n`)
  })
  const args = () => ({ host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })

  it("is refused by default", async () => {
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      const r = await call(server, "ssh_connect", args())
      expect(r.isError, r.text).toBe(true)
      expect(r.data.error, r.text).toMatchObject({ code: "CONNECT_FAILED" })
      expect(r.text).toMatch(/host key/i)
    } finally {
      await server.close()
    }
  })

  // The server resets the connection after the failed handshake: that late socket error once
  // reached an ssh2 Client with no 'error' listener left and killed the whole MCP server.
  it("refused again and again, never takes the server down", async () => {
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      for (let i = 0; i < 15; i++) {
        const r = await call(server, "ssh_connect", args())
        expect(r.data.error, r.text).toMatchObject({ code: "CONNECT_FAILED" })
      }
      const listed = await call(server, "ssh_list_hosts", {})
      expect(listed.isError, listed.text).toBe(false)
      expect(server.stderr()).not.toMatch(/Unhandled 'error' event/)
    } finally {
      await server.close()
    }
  })

  it("is reached when the operator allows ssh-rsa in [server.algorithms]", async () => {
    const config = path.join(path.dirname(knownHosts), "config.toml")
    fs.writeFileSync(config, `[server.algorithms]\nserver_host_key = ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]\n`)
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--config", config] })
    try {
      const r = await call(server, "ssh_connect", args())
      expect(r.isError, r.text).toBe(false)
      const e = await call(server, "ssh_exec", { command: "echo ok" })
      expect(e.data.stdout).toBe("ok\n")
    } finally {
      await server.close()
    }
  })
}, { rsaHostKey: true, extraConfig: "HostKeyAlgorithms ssh-rsa" })
