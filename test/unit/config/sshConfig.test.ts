import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseJump, resolveSshConfig } from "../../../src/config/sshConfig.js"

const home = fs.mkdtempSync(path.join(os.tmpdir(), "sshcfg-"))
const text = `
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

Host *
  ServerAliveInterval 30
  IdentityFile ~/.ssh/id_default
`
const file = path.join(home, "config")
fs.writeFileSync(file, text)

/** What OpenSSH itself computes for these keys. */
const sshG = (alias: string) => {
  const out = execFileSync("ssh", ["-G", "-F", file, alias], { encoding: "utf8", env: { ...process.env, HOME: home }, stdio: ["ignore", "pipe", "ignore"] })
  const get = (k: string) => out.split("\n").filter((l) => l.startsWith(`${k} `)).map((l) => l.slice(k.length + 1))
  return { hostname: get("hostname")[0], user: get("user")[0], port: Number(get("port")[0]), identityfile: get("identityfile"), proxyjump: get("proxyjump")[0], serveraliveinterval: Number(get("serveraliveinterval")[0]) }
}

describe("resolveSshConfig", () => {
  for (const alias of ["prod", "web.internal", "db1"]) {
    it(`agrees with ssh -G for ${alias}`, () => {
      const ours = resolveSshConfig(text, alias, home, "me")
      const theirs = sshG(alias)
      expect(ours.hostName).toBe(theirs.hostname)
      expect(ours.user).toBe(theirs.user)
      expect(ours.port ?? 22).toBe(theirs.port)
      // ssh -G prints IdentityFile before expanding %h (ssh expands it when it uses the file).
      expect(ours.identityFiles).toEqual(theirs.identityfile.map((f) => f.replace(/^~/, home).replace(/%h/g, theirs.hostname!)))
      expect(ours.proxyJump?.join(",")).toBe(theirs.proxyjump)
      expect(ours.serverAliveIntervalSec).toBe(theirs.serveraliveinterval)
    })
  }

  it("knows which aliases a Host block names", () => {
    expect(resolveSshConfig(text, "prod", home, "me").named).toBe(true)
    expect(resolveSshConfig(text, "elsewhere", home, "me")).toMatchObject({ named: false, hostName: "elsewhere" })
  })

  it("splits ProxyJump elements", () => {
    expect(parseJump("bastion")).toEqual({ host: "bastion" })
    expect(parseJump("ops@jump2:2200")).toEqual({ user: "ops", host: "jump2", port: 2200 })
    expect(parseJump("[::1]:22")).toEqual({ host: "::1", port: 22 })
  })
})
