/**
 * Hosts reached through a ProxyCommand (issue #28): `ssh -W %h:%p` through a second real
 * sshd, a `socat` and an `nc` pipe, and proxy_command on a host of the config file. The
 * command's stdio is the transport, it dies with the connection, a reconnect runs it again,
 * a failing one is explained by its stderr; ~/.ssh/config with Include and Match host/user.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, startSshd } from "../support/sshd.js"

/** Which local processes hold a TCP connection to `port` (ss -p names them). */
const holders = (port: number) => execFileSync("ss", ["-tnpH", "state", "established", `( dport = :${port} )`], { encoding: "utf8" })

const waitFor = async (what: string, check: () => boolean, ms = 15_000) => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describeWithSshd("ProxyCommand and ssh_config as ssh reads it", (getSshd) => {
  let target: Sshd
  let jump: Sshd
  let home: string
  let server: McpServerProcess
  /** In the ssh -W command line, so that its process can be found. */
  const mark = `ConnectTimeout=${100 + Math.floor(Math.random() * 800)}`
  const proxyMarker = () => path.join(home, "proxy-ran")

  beforeAll(async () => {
    target = getSshd()
    jump = await startSshd()
    home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-proxy-"))
    const ssh = path.join(home, ".ssh")
    fs.mkdirSync(path.join(ssh, "conf.d"), { recursive: true, mode: 0o700 })
    fs.writeFileSync(path.join(ssh, "known_hosts"), fs.readFileSync(target.knownHostsPath, "utf8"))
    const toTarget = [`  HostName 127.0.0.1`, `  Port ${target.port}`, `  User ${target.user.name}`, `  IdentityFile ${target.clientKeyPath}`]
    fs.writeFileSync(path.join(ssh, "config"), [
      "Include conf.d/*.conf",
      "Host via-ssh",
      ...toTarget,
      `  ProxyCommand ssh -F /dev/null -o ${mark} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${jump.knownHostsPath} ` +
      `-i ${jump.clientKeyPath} -p ${jump.port} -l ${jump.user.name} -W %h:%p 127.0.0.1`,
      "Host via-socat",
      ...toTarget,
      "  ProxyCommand socat - TCP:%h:%p",
      "Host via-nc",
      ...toTarget,
      "  ProxyCommand nc %h %p",
      "  ForwardAgent yes",
      "Host broken",
      ...toTarget,
      "  ProxyCommand sh -c 'echo \"bastion says: no route to %h\" >&2; exit 3'",
      `Host proxied-*`,
      ...toTarget,
      `  ProxyCommand sh -c 'touch ${proxyMarker()}-%n; exec socat - TCP:%h:%p'`,
      // Match host matches the HostName: every alias of the included file that lands on the target.
      `Match host 127.0.0.1 user ${target.user.name}`,
      `  IdentityFile ${target.clientKeyPath}`,
      "  Compression yes",
      ""
    ].join("\n"))
    fs.writeFileSync(path.join(ssh, "conf.d", "10-target.conf"), [
      "Host included",
      "  HostName 127.0.0.1",
      `  Port ${target.port}`,
      `  User ${target.user.name}`,
      ""
    ].join("\n"))
    server = await startMcpServer({ home })
  })
  afterAll(async () => {
    await server?.close()
    await jump?.stop()
  })

  it("runs ssh -W %h:%p through a second sshd: the target's TCP peer is that sshd, and the command is gone on disconnect", async () => {
    const r = await call(server, "ssh_connect", { host: "via-ssh" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ alias: "via-ssh", address: "127.0.0.1", port: target.port, user: target.user.name, auth_method: "publickey" })
    const who = await call(server, "ssh_exec", { host: "via-ssh", command: "id -un" })
    expect(who.data.stdout).toBe(`${target.user.name}\n`)
    expect(fs.readFileSync(jump.logPath, "utf8")).toMatch(new RegExp(`Accepted publickey for ${jump.user.name}`))
    expect(holders(target.port)).toMatch(/sshd/)
    expect(execFileSync("pgrep", ["-f", mark], { encoding: "utf8" }).trim()).not.toBe("")
    const d = await call(server, "ssh_disconnect", { host: "via-ssh" })
    expect(d.isError, d.text).toBe(false)
    await waitFor("the ProxyCommand to end", () => {
      try {
        execFileSync("pgrep", ["-f", mark])
        return false
      } catch {
        return true
      }
    })
  })

  it("reconnects by running the command again when the connection drops", async () => {
    const r = await call(server, "ssh_connect", { host: "via-ssh", alias: "again" })
    expect(r.isError, r.text).toBe(false)
    const accepted = () => fs.readFileSync(jump.logPath, "utf8").split("\n").filter((l) => l.includes(`Accepted publickey for ${jump.user.name}`)).length
    const before = accepted()
    await target.killConnections()
    await waitFor("a second run of the ProxyCommand", () => accepted() > before)
    const who = await call(server, "ssh_exec", { host: "again", command: "echo back" })
    expect(who.isError, who.text).toBe(false)
    expect(who.data.stdout).toBe("back\n")
    await call(server, "ssh_disconnect", { host: "again" })
  })

  for (const [alias, program] of [["via-socat", "socat"], ["via-nc", "nc"]] as const) {
    it(`pipes the transport through ${program}`, async () => {
      const r = await call(server, "ssh_connect", { host: alias })
      expect(r.isError, r.text).toBe(false)
      const who = await call(server, "ssh_exec", { host: alias, command: "id -un" })
      expect(who.data.stdout).toBe(`${target.user.name}\n`)
      expect(holders(target.port)).toMatch(new RegExp(`"${program}"`))
      await call(server, "ssh_disconnect", { host: alias })
    })
  }

  it("names what of ssh_config it did not honour in ignored_config", async () => {
    const nc = await call(server, "ssh_connect", { host: "via-nc", alias: "nc2" })
    expect(nc.isError, nc.text).toBe(false)
    expect(nc.data.ignored_config).toEqual(["ForwardAgent", "Compression"])
    await call(server, "ssh_disconnect", { host: "nc2" })
  })

  it("fails a ProxyCommand that exits with its status and stderr", async () => {
    const r = await call(server, "ssh_connect", { host: "broken" })
    expect(r.data).toMatchObject({ error: { code: "CONNECT_FAILED" } })
    expect(r.text).toMatch(/ProxyCommand exited with status 3/)
    expect(r.text).toContain("bastion says: no route to 127.0.0.1")
  })

  it("reads Include files and Match host/user blocks", async () => {
    const r = await call(server, "ssh_connect", { host: "included" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ alias: "included", port: target.port, user: target.user.name, auth_method: "publickey" })
    expect(r.data.ignored_config).toEqual(["Compression"])
    await call(server, "ssh_disconnect", { host: "included" })
  })

  it("takes no ProxyCommand from the agent, and refuses a name with shell metacharacters that %n would put into one", async () => {
    const given = await call(server, "ssh_connect", { host: "127.0.0.1", port: target.port, proxy_command: `touch ${proxyMarker()}` })
    expect(given.isError).toBe(true)
    expect(given.text).toMatch(/proxy_command/)
    for (const host of ["proxied-$(id)", "proxied-`id`", "proxied-a;id"]) {
      const r = await call(server, "ssh_connect", { host, alias: "evil" })
      expect(r.data, r.text).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/^host: /) } })
    }
    const ran = () => fs.readdirSync(home).filter((f) => f.startsWith("proxy-ran"))
    expect(ran()).toEqual([])
    // The same block with an ordinary name runs its command.
    const ok = await call(server, "ssh_connect", { host: "proxied-box" })
    expect(ok.isError, ok.text).toBe(false)
    expect(ran()).toEqual(["proxy-ran-proxied-box"])
    await call(server, "ssh_disconnect", { host: "proxied-box" })
  })

  it("runs proxy_command of a host in the config file", async () => {
    const config = path.join(home, "config.toml")
    fs.writeFileSync(config, [
      "[hosts.tomlproxy]",
      `host = "127.0.0.1"`,
      `port = ${target.port}`,
      `user = "${target.user.name}"`,
      `key = "${target.clientKeyPath}"`,
      `proxy_command = "socat - TCP:%h:%p"`,
      ""
    ].join("\n"))
    const configured = await startMcpServer({ home, args: ["--config", config] })
    try {
      const r = await call(configured, "ssh_exec", { host: "tomlproxy", command: "id -un" })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.stdout).toBe(`${target.user.name}\n`)
      expect(holders(target.port)).toMatch(/"socat"/)
    } finally {
      await configured.close()
    }
  })
})
