import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseJump, resolveSshConfig } from "../../../src/config/sshConfig.js"
import { UnsafeNameError } from "../../../src/config/sshTokens.js"

const home = fs.mkdtempSync(path.join(os.tmpdir(), "sshcfg-"))
fs.mkdirSync(path.join(home, ".ssh", "conf.d"), { recursive: true })
const marker = path.join(home, "match-exec-ran")
const text = `
Include conf.d/*.conf

Host prod
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile ~/.ssh/id_prod
  ProxyJump bastion,ops@jump2:2200

Host *.internal db?
  User internal
  IdentityFile ~/.ssh/id_%h

Host prod
  User ignored-second-match

Host viaproxy
  HostName target.example
  User alice
  ProxyCommand ssh -W %h:%p -l %r bastion
  CertificateFile ~/.ssh/id_%r-cert.pub
  IdentityAgent ~/.ssh/agent-%n.sock
  IdentitiesOnly yes
  ForwardAgent yes

Host scoped
  Include scoped.inc

Host elsewhere
  HostName 10.9.9.9

Match host 10.9.* user bob
  Port 2200

Match originalhost elsewhere !user bob
  Port 2300
  Compression yes

Match host exec-* exec "echo %h >> ${marker}"
  Port 2400

Host *
  ServerAliveInterval 30
  IdentityFile ~/.ssh/id_default
`
const file = path.join(home, ".ssh", "config")
fs.writeFileSync(file, text)
fs.writeFileSync(path.join(home, ".ssh", "conf.d", "10-web.conf"), "Host web\n  HostName web.example\n  User webby\n")
fs.writeFileSync(path.join(home, ".ssh", "conf.d", "20-web.conf"), "Host web\n  User second\n  Port 2022\n")
fs.writeFileSync(path.join(home, ".ssh", "scoped.inc"), "HostName scoped.example\nUser scoper\n")
// What ssh 9.2 cannot read either (Match localnetwork came in 9.4): not compared with ssh -G.
const newer = path.join(home, "newer_config")
fs.writeFileSync(newer, "Match localnetwork 10.0.0.0/8\n  Port 9999\nHost *\n  ControlMaster auto\n  User plain\n")

/** What OpenSSH itself computes for these keys. */
const sshG = (alias: string, user?: string) => {
  const out = execFileSync("ssh", ["-G", "-F", file, ...(user !== undefined ? ["-l", user] : []), alias], {
    encoding: "utf8",
    env: { ...process.env, HOME: home, SSH_AUTH_SOCK: "" },
    stdio: ["ignore", "pipe", "ignore"]
  })
  const get = (k: string) => out.split("\n").filter((l) => l.startsWith(`${k} `)).map((l) => l.slice(k.length + 1))
  return {
    hostname: get("hostname")[0],
    user: get("user")[0],
    port: Number(get("port")[0]),
    identityfile: get("identityfile"),
    proxyjump: get("proxyjump")[0],
    proxycommand: get("proxycommand")[0],
    certificatefile: get("certificatefile"),
    identityagent: get("identityagent")[0],
    identitiesonly: get("identitiesonly")[0],
    serveraliveinterval: Number(get("serveraliveinterval")[0])
  }
}

const options = { file, home, localUser: "me" }

describe("resolveSshConfig", () => {
  for (const [alias, user] of [["prod"], ["web.internal"], ["db1"], ["web"], ["scoped"], ["elsewhere"], ["elsewhere", "bob"], ["viaproxy"]] as const) {
    it(`agrees with ssh -G for ${alias}${user !== undefined ? ` -l ${user}` : ""}`, () => {
      const ours = resolveSshConfig(alias, { ...options, user })
      const theirs = sshG(alias, user)
      expect(ours.hostName).toBe(theirs.hostname)
      expect(user ?? ours.user ?? "me").toBe(theirs.user === os.userInfo().username ? "me" : theirs.user)
      expect(ours.port ?? 22).toBe(theirs.port)
      // ssh -G prints IdentityFile and CertificateFile before expanding tokens (ssh expands them when it uses the file).
      const expand = (f: string) => f.replace(/^~/, home).replace(/%h/g, theirs.hostname!).replace(/%r/g, theirs.user!)
      expect(ours.identityFiles).toEqual(theirs.identityfile.map(expand))
      expect(ours.certificateFiles).toEqual(theirs.certificatefile.map(expand))
      expect(ours.proxyJump?.join(",")).toBe(theirs.proxyjump)
      // ssh -G prints ProxyCommand as written; we expand %h %p %r %n.
      expect(ours.proxyCommand).toBe(theirs.proxycommand?.replace(/%h/g, theirs.hostname!).replace(/%p/g, String(theirs.port)).replace(/%r/g, theirs.user!))
      // ssh -G expands IdentityAgent, with the home of the passwd entry for ~ (ours: $HOME).
      expect(ours.identityAgent).toBe(theirs.identityagent?.replace(os.userInfo().homedir, home))
      expect(ours.identitiesOnly ?? false).toBe(theirs.identitiesonly === "yes")
      expect(ours.serverAliveIntervalSec).toBe(theirs.serveraliveinterval)
    })
  }

  it("names what applied and is not honoured, and only that", () => {
    expect(resolveSshConfig("viaproxy", options).ignored).toEqual(["ForwardAgent"])
    expect(resolveSshConfig("elsewhere", options).ignored).toEqual(["Compression"])
    expect(resolveSshConfig("prod", options).ignored).toEqual([])
    // A criterion we cannot evaluate skips its block, and says so.
    expect(resolveSshConfig("any", { ...options, file: newer })).toMatchObject({ user: "plain", ignored: ["Match localnetwork", "ControlMaster"] })
  })

  it("runs Match exec as ssh does, with its tokens expanded, only when its block is reached", () => {
    fs.rmSync(marker, { force: true })
    resolveSshConfig("prod", options)
    expect(fs.existsSync(marker)).toBe(false)
    resolveSshConfig("exec-box", options)
    expect(fs.readFileSync(marker, "utf8")).toBe("exec-box\n")
  })

  it("refuses a name with shell metacharacters that a token would put into a local command", () => {
    fs.rmSync(marker, { force: true })
    expect(() => resolveSshConfig("exec-$(touch x)", options)).toThrow(UnsafeNameError)
    expect(fs.existsSync(marker)).toBe(false)
    expect(() => resolveSshConfig("viaproxy", { ...options, user: "a;b" })).toThrow(/^user: /)
    // The same names are fine where no command takes them.
    expect(resolveSshConfig("prod", { ...options, user: "a;b" }).hostName).toBe("10.0.0.5")
  })

  it("knows which aliases a Host block names", () => {
    expect(resolveSshConfig("prod", options).named).toBe(true)
    expect(resolveSshConfig("nowhere", options)).toMatchObject({ named: false, hostName: "nowhere" })
  })

  it("splits ProxyJump elements", () => {
    expect(parseJump("bastion")).toEqual({ host: "bastion" })
    expect(parseJump("ops@jump2:2200")).toEqual({ user: "ops", host: "jump2", port: 2200 })
    expect(parseJump("[::1]:22")).toEqual({ host: "::1", port: 22 })
  })
})
