/** Configuration end to end: a TOML file with two hosts, and startup errors. */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, MAIN, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, startSshd } from "../support/sshd.js"

describeWithSshd("a config file with two hosts", (getSshd) => {
  let second: Sshd
  beforeAll(async () => {
    second = await startSshd()
  })
  afterAll(async () => {
    await second?.stop()
  })

  it("makes both usable, lists both, and shows no secret", async () => {
    const first = getSshd()
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-cfg-"))
    const knownHosts = path.join(home, "known_hosts")
    fs.writeFileSync(knownHosts, fs.readFileSync(first.knownHostsPath, "utf8") + fs.readFileSync(second.knownHostsPath, "utf8"))
    const config = path.join(home, "config.toml")
    fs.writeFileSync(config, `
default_host = "one"

[hosts.one]
host = "127.0.0.1"
port = ${first.port}
user = "${first.user.name}"
password_env = "ONE_PASSWORD"

[hosts.two]
host = "127.0.0.1"
port = ${second.port}
user = "${second.nopasswdUser.name}"
key = "${second.clientKeyPath}"

[server]
known_hosts = "${knownHosts}"
`)
    const server = await startMcpServer({ args: ["--config", config], env: { ONE_PASSWORD: first.user.password }, home })
    try {
      const list = await call(server, "ssh_list_hosts", {})
      expect(list.data.hosts).toEqual([
        expect.objectContaining({ alias: "one", port: first.port, auth_method: "password", password_env: "ONE_PASSWORD", is_default: true, source: "config-file", connected: false }),
        expect.objectContaining({ alias: "two", port: second.port, auth_method: "key", key_path: second.clientKeyPath, is_default: false, source: "config-file" })
      ])
      const one = await call(server, "ssh_exec", { command: "id -un" })
      expect(one.data.stdout).toBe(`${first.user.name}\n`)
      const two = await call(server, "ssh_exec", { command: "id -un", host: "two" })
      expect(two.data.stdout).toBe(`${second.nopasswdUser.name}\n`)
      const after = await call(server, "ssh_list_hosts", {})
      expect((after.data.hosts as Array<{ connected: boolean }>).every((h) => h.connected)).toBe(true)
      for (const text of [list.text, one.text, two.text, after.text, server.stderr()]) {
        expect(text).not.toContain(first.user.password)
      }
    } finally {
      await server.close()
    }
  })
})

const runMain = (args: Array<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-cfgerr-"))
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", HOME: home, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? null, stdout, stderr })
    })
  })

describe("startup errors", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-cfgbad-"))
  const file = (name: string, text: string) => {
    const p = path.join(dir, name)
    fs.writeFileSync(p, text)
    return p
  }
  const cases: Array<[string, Array<string>, RegExp]> = [
    ["malformed TOML", ["--config", file("bad.toml", "[hosts\n")], /bad\.toml.*malformed TOML/],
    ["an unknown key", ["--config", file("unknown.toml", "[server]\nverbose = true\n")], /server\.verbose/],
    ["a wrong type", ["--config", file("type.toml", "[limits]\nmax_jobs_per_host = \"many\"\n")], /limits\.max_jobs_per_host/],
    ["a missing env var", ["--host", "a=127.0.0.1", "--password-env", "SURELY_NOT_SET"], /SURELY_NOT_SET is not set/],
    ["a password flag", ["--password", "x"], /--password/]
  ]
  // Every numeric flag `--help` lists, and its [limits] / [server] key, fed values it must refuse:
  // a flag added later is covered by construction.
  const help = execFileSync(process.execPath, [MAIN, "--help"], { encoding: "utf8" })
  const numericFlags = [...help.matchAll(/^\s+--([a-z-]+) ([NX])\b/gm)].map((m) => m[1]!).filter((f) => f !== "port")
  it("lists the numeric flags the generated cases below feed", () => {
    expect(numericFlags).toEqual(expect.arrayContaining(["max-jobs", "max-hosts", "extra-connection-idle-sec", "http-max-sessions", "http-session-idle-sec"]))
  })
  for (const flag of numericFlags) {
    const key = flag.replace(/-/g, "_")
    const section = key.startsWith("http_") ? "server" : "limits"
    const http = key.startsWith("http_") ? ["--http", "--port", "0"] : []
    cases.push(
      [`--${flag} abc`, [...http, `--${flag}`, "abc"], new RegExp(`--${flag}`)],
      [`--${flag} -5`, [...http, `--${flag}=-5`], new RegExp(`--${flag}`)],
      [`${section}.${key} = "many"`, ["--config", file(`${key}.toml`, `[${section}]\n${key} = "many"\n`)], new RegExp(`${section}\\.${key}`)]
    )
  }
  cases.push(
    ["--allow-remote-bind without --http", ["--allow-remote-bind"], /--allow-remote-bind/],
    ["a non-loopback --bind without --allow-remote-bind", ["--http", "--port", "0", "--bind", "0.0.0.0"], /--bind|--allow-remote-bind/],
    ["an alias with a newline in --host", ["--host", "a\nb=127.0.0.1"], /alias|--host/],
    ["an alias too long in the file", ["--config", file("alias.toml", `[hosts.${"a".repeat(65)}]\nhost = "127.0.0.1"\n`)], /hosts/],
    ["an unknown SSH algorithm", ["--config", file("alg.toml", "[server.algorithms]\ncipher = [\"rot13\"]\n")], /rot13|algorithms/],
    ["allow_agent_insecure_auto_add of the wrong type", ["--config", file("aa.toml", "[server]\nallow_agent_insecure_auto_add = \"yes\"\n")], /allow_agent_insecure_auto_add/]
  )
  for (const [what, args, pattern] of cases) {
    it(`fails on ${what} with one line, exit 2, nothing on stdout`, async () => {
      const r = await runMain(args)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe("")
      const lines = r.stderr.trim().split("\n").filter((l) => !l.trimStart().startsWith("hint:"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(pattern)
    })
  }
})
