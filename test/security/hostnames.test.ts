/**
 * Agent-supplied host and user names next to local commands (issue 23, item 8). The
 * operator's ~/.ssh/config may hold `Match exec` commands, which run (through a shell) when
 * a name is looked up in it, as with ssh: that is parity, and they are the operator's
 * commands. What the agent types must never reach one: host and user names with shell
 * metacharacters, whitespace, control characters or a leading `-` are refused up front,
 * as OpenSSH (9.6 and later) refuses them from its command line, before any lookup.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, parseErrorText, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

describeWithSshd("agent host and user names never reach a local command", (getSshd) => {
  let sshd: Sshd
  let server: McpServerProcess
  let home: string
  let marker: string

  beforeAll(async () => {
    sshd = getSshd()
    home = fs.mkdtempSync(path.join(sshd.dir, "hostnames-home-"))
    marker = path.join(home, "match-exec-ran")
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 })
    fs.copyFileSync(sshd.knownHostsPath, path.join(home, ".ssh", "known_hosts"))
    // The operator's own Match exec: it records each run.
    fs.writeFileSync(path.join(home, ".ssh", "config"), [
      `Match exec "echo ran >> ${marker}"`,
      `  ServerAliveInterval 30`,
      `Host box`,
      `  HostName ${sshd.host}`,
      `  Port ${sshd.port}`,
      `  User ${sshd.user.name}`,
      `  IdentityFile ${sshd.clientKeyPath}`,
      ""
    ].join("\n"))
    server = await startMcpServer({ home })
  })
  afterAll(async () => {
    await server?.close()
  })

  const runs = () => (fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").split("\n").filter((l) => l !== "").length : 0)

  it("runs the operator's Match exec for an ordinary name, as ssh does", async () => {
    const before = runs()
    const r = await call(server, "ssh_connect", { host: "box" })
    expect(r.isError, r.text).toBe(false)
    expect(runs()).toBeGreaterThan(before)
  })

  const hosts = [
    "box;touch /tmp/x", "box`id`", "$(id)", "box|id", "box&id", "box>x", "box<x", "box'", "box\"", "box\\x",
    "(box)", "{box}", "-oProxyCommand=id", "box,other"
  ]
  for (const host of hosts) {
    it(`refuses host ${JSON.stringify(host)} with INVALID_ARGUMENT naming host, before any lookup`, async () => {
      const before = runs()
      const r = await call(server, "ssh_connect", { host, alias: "evil" })
      expect(r.isError).toBe(true)
      expect(parseErrorText(r.text), r.text).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^host: /) })
      expect(runs()).toBe(before)
    })
  }

  const users = ["a;id", "a`id`", "-oProxyCommand=id", "a -x", "a|b", "a(b)", "a{b}", "a'b", "a\"b", "a&b", "a<b", "a>b", "a\\", "a\u0085b", "a\u007fb"]
  for (const user of users) {
    it(`refuses user ${JSON.stringify(user)} with INVALID_ARGUMENT naming user, before any lookup`, async () => {
      const before = runs()
      const r = await call(server, "ssh_connect", { host: "box", user, alias: "evil" })
      expect(r.isError).toBe(true)
      expect(parseErrorText(r.text), r.text).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^user: /) })
      expect(runs()).toBe(before)
    })
  }

  it("still takes the names OpenSSH takes: dots, dashes, underscores, IPv6, a user with @ or a domain", async () => {
    for (const user of [sshd.user.name]) {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user, key_path: sshd.clientKeyPath, alias: "plain" })
      expect(r.isError, r.text).toBe(false)
    }
    // Refused by the host, not by us: the name itself is fine.
    for (const user of ["first.last@example.com", "DOMAIN\\user", "a b"]) {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user, key_path: sshd.clientKeyPath, alias: "other" })
      expect(parseErrorText(r.text)?.code, r.text).not.toBe("INVALID_ARGUMENT")
    }
  })
})
