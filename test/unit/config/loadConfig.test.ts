import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { helpText, loadConfig, type Startup } from "../../../src/config/loadConfig.js"

const home = fs.mkdtempSync(path.join(os.tmpdir(), "cfg-home-"))
const keyFile = path.join(home, "id_test")
fs.writeFileSync(keyFile, "not really a key")
const write = (name: string, text: string) => {
  const file = path.join(home, name)
  fs.writeFileSync(file, text)
  return file
}

const load = (argv: Array<string>, env: Record<string, string> = {}) =>
  Effect.runSyncExit(loadConfig(argv, { HOME: home, ...env }))

const ok = (argv: Array<string>, env: Record<string, string> = {}) => {
  const exit = load(argv, env)
  if (Exit.isFailure(exit)) throw new Error(`expected success: ${JSON.stringify(exit.cause)}`)
  const s = exit.value as Startup
  if (s._tag !== "Run") throw new Error("expected Run")
  return s
}

const error = (argv: Array<string>, env: Record<string, string> = {}) => {
  const e = Effect.runSync(Effect.flip(loadConfig(argv, { HOME: home, ...env })))
  expect(e.code).toBe("CONFIG_INVALID")
  expect(e.message).not.toContain("\n")
  return e.message
}

describe("loadConfig", () => {
  it("starts with defaults and no hosts", () => {
    const s = ok([])
    expect(s.config.hosts).toEqual([])
    expect(s.config.knownHostsPath).toBe(path.join(home, ".ssh", "known_hosts"))
    expect(s.config.limits.maxJobsPerHost).toBe(50)
    expect(s.configFile).toBeUndefined()
  })

  it("takes the audit log from [server] audit_log or --audit-log (the flag wins), ~ expanded; none by default", () => {
    expect(ok([]).config.auditLog).toBeUndefined()
    const file = write("audit.toml", `[server]\naudit_log = "~/audit/file.jsonl"\n`)
    expect(ok(["--config", file]).config.auditLog).toBe(path.join(home, "audit", "file.jsonl"))
    expect(ok(["--config", file, "--audit-log", "/var/log/a.jsonl"]).config.auditLog).toBe("/var/log/a.jsonl")
    expect(error(["--config", write("audit-bad.toml", `[server]\naudit_log = 3\n`)])).toContain("server.audit_log")
  })

  it("takes the live view port and the recordings' directory from [server] or the flags (the flags win)", () => {
    expect(ok([]).config.viewPort).toBeUndefined()
    expect(ok([]).config.recordDir).toBeUndefined()
    const file = write("handoff.toml", `[server]\nview_port = 8799\nrecord_dir = "~/casts"\n`)
    expect(ok(["--config", file]).config).toMatchObject({ viewPort: 8799, recordDir: path.join(home, "casts") })
    expect(ok(["--config", file, "--view-port", "0", "--record-dir", "/tmp/c"]).config).toMatchObject({ viewPort: 0, recordDir: "/tmp/c" })
    expect(error(["--view-port", "70000"])).toContain("--view-port")
    expect(error(["--view-port", "x"])).toContain("--view-port")
    expect(error(["--config", write("handoff-bad.toml", `[server]\nview_port = -1\n`)])).toContain("server.view_port")
  })

  it("reads interactive_keys in a policy table", () => {
    const file = write("keys.toml", `[policy]\ndeny = ["rm"]\n\n[hosts.web1]\nhost = "10.0.0.9"\n\n[hosts.web1.policy]\ninteractive_keys = true\n`)
    const s = ok(["--config", file])
    expect(s.config.policy).toEqual({ deny: ["rm"] })
    expect(s.config.hosts[0]!.policy).toEqual({ interactiveKeys: true })
    expect(error(["--config", write("keys-bad.toml", `[policy]\ninteractive_keys = "yes"\n`)])).toContain("policy.interactive_keys")
  })

  it("reads a TOML file with two hosts, limits and server options; flags win", () => {
    const file = write("two.toml", `
default_host = "prod"

[hosts.prod]
host = "10.0.0.5"
user = "deploy"
password_env = "PROD_PW"
sudo_password_env = "PROD_SUDO"

[hosts.db]
host = "db.internal"
port = 2222
key = "${keyFile}"

[limits]
max_jobs_per_host = 10
max_jobs = 20
ring_buffer_lines = 500
reconnect_delay_sec = 0.5

[server]
log_level = "debug"
insecure_auto_add = false
`)
    const s = ok(["--config", file, "--max-jobs-per-host", "7", "--host", "db=127.0.0.1:2200"], { PROD_PW: "x", PROD_SUDO: "y" })
    expect(s.configFile).toBe(file)
    expect(s.config.defaultHost).toBe("prod")
    expect(s.config.limits).toMatchObject({ maxJobsPerHost: 7, maxJobs: 20, ringBufferLines: 500, reconnectDelaySec: 0.5, maxLineBytes: 65536 })
    expect(s.config.logLevel).toBe("debug")
    const prod = s.config.hosts.find((h) => h.alias === "prod")
    expect(prod).toEqual({
      alias: "prod", host: "10.0.0.5", port: 22, user: "deploy", passwordEnv: "PROD_PW", sudoPasswordEnv: "PROD_SUDO", source: "config-file"
    })
    expect(s.config.hosts.find((h) => h.alias === "db")).toEqual({ alias: "db", host: "127.0.0.1", port: 2200, source: "cli" })
  })

  it("reads sudo_with_login_password per host and in [server], or --sudo-with-login-password; off by default", () => {
    expect(ok([]).config.sudoWithLoginPassword).toBeUndefined()
    expect(ok(["--sudo-with-login-password"]).config.sudoWithLoginPassword).toBe(true)
    const file = write("sudo-login.toml", `[server]\nsudo_with_login_password = true\n\n[hosts.a]\nhost = "h"\nsudo_with_login_password = false\n`)
    const s = ok(["--config", file])
    expect(s.config.sudoWithLoginPassword).toBe(true)
    expect(s.config.hosts[0]).toMatchObject({ alias: "a", sudoWithLoginPassword: false })
    expect(error(["--config", write("sudo-login-bad.toml", `[hosts.a]\nhost = "h"\nsudo_with_login_password = "yes"\n`)]))
      .toMatch(/hosts\.a\.sudo_with_login_password/)
  })

  it("finds the default file under XDG_CONFIG_HOME", () => {
    const xdg = fs.mkdtempSync(path.join(os.tmpdir(), "xdg-"))
    fs.mkdirSync(path.join(xdg, "mcp-ssh-live"))
    fs.writeFileSync(path.join(xdg, "mcp-ssh-live", "config.toml"), `[hosts.a]\nhost = "h"\n`)
    expect(ok([], { XDG_CONFIG_HOME: xdg }).config.hosts.map((h) => h.alias)).toEqual(["a"])
  })

  it("parses --host forms, IPv6 included", () => {
    const s = ok(["--host", "a=example.com", "--host", "b=[::1]:2222", "--user", "me", "--default-host", "b"])
    expect(s.config.hosts).toEqual([
      { alias: "a", host: "example.com", port: 22, user: "me", source: "cli" },
      { alias: "b", host: "::1", port: 2222, user: "me", source: "cli" }
    ])
  })

  it("names the problem in one line", () => {
    expect(error(["--config", write("bad.toml", "[hosts.a\nhost = 1")])).toMatch(/^bad\.toml|bad\.toml: line 1.*malformed TOML/)
    expect(error(["--config", write("unknown.toml", `[hosts.a]\nhost = "h"\nhostname = "x"\n`)])).toMatch(/hosts\.a\.hostname/)
    expect(error(["--config", write("type.toml", `[hosts.a]\nhost = "h"\nport = "abc"\n`)])).toMatch(/hosts\.a\.port/)
    expect(error(["--config", write("range.toml", `[limits]\nmax_jobs_per_host = 0\n`)])).toMatch(/limits\.max_jobs_per_host/)
    expect(error(["--config", write("pw.toml", `[hosts.a]\nhost = "h"\npassword = "hunter2"\n`)])).toMatch(/hosts\.a\.password: secrets are not accepted/)
    expect(error(["--config", write("env.toml", `[hosts.a]\nhost = "h"\npassword_env = "NOPE_NOT_SET"\n`)])).toMatch(/hosts\.a\.password_env: environment variable NOPE_NOT_SET is not set/)
    expect(error(["--config", write("dflt.toml", `default_host = "zz"\n`)])).toMatch(/default_host: no host with alias "zz"/)
    expect(error(["--config", path.join(home, "missing.toml")])).toMatch(/missing\.toml: cannot read/)
    expect(error(["--host", "foo"])).toMatch(/--host: expected alias=addr\[:port\], got "foo"/)
    expect(error(["--host", "a=h:99999"])).toMatch(/--host/)
    expect(error(["--password", "hunter2"])).toMatch(/--password: passwords are not accepted/)
    expect(error(["--bogus"])).toMatch(/bogus/)
    expect(error(["--max-jobs-per-host", "x"])).toMatch(/--max-jobs-per-host: expected a positive integer/)
    expect(error(["--max-jobs", "0"])).toMatch(/--max-jobs: expected a positive integer/)
    expect(error(["--log-level", "loud"])).toMatch(/--log-level/)
    expect(error(["--host", "a=h", "--password-env", "UNSET_VAR_X"])).toMatch(/--password-env: environment variable UNSET_VAR_X is not set/)
    expect(error(["--host", "a=h", "--key", "/no/such/key"])).toMatch(/no such file: \/no\/such\/key/)
    expect(error(["--default-host", "nope"])).toMatch(/--default-host: no host with alias "nope"/)
  })

  it("reads [groups] of configured aliases (file or --host), and names a member that is not one", () => {
    const file = write("groups.toml", `
[hosts.web1]
host = "10.0.0.1"

[hosts.web2]
host = "10.0.0.2"

[groups]
web = ["web2", "web1", "web2"]
edge = ["web1", "cli1"]
`)
    const s = ok(["--config", file, "--host", "cli1=10.0.0.9"])
    expect(s.config.groups).toEqual({ web: ["web2", "web1"], edge: ["web1", "cli1"] })
    expect(ok([]).config.groups).toBeUndefined()
    expect(error(["--config", file])).toMatch(/^groups\.toml: groups\.edge: "cli1" is not a host alias$/)
    expect(error(["--config", write("g-empty.toml", `[groups]\nweb = []\n`)])).toMatch(/groups\.web/)
    expect(error(["--config", write("g-name.toml", `[groups]\n"bad name" = ["a"]\n`)])).toMatch(/groups/)
  })

  it("reads local_roots (the flags replace the file's list; ~ expands; each absolute) and records the config path", () => {
    expect(ok([]).config.localRoots).toBeUndefined()
    expect(ok([]).config.configPath).toBe(path.join(home, ".config", "mcp-ssh-live", "config.toml"))
    expect(ok(["--local-root", "/dev/shm", "--local-root", "~/t"]).config.localRoots).toEqual(["/dev/shm", path.join(home, "t")])
    const file = write("roots.toml", `[server]\nlocal_roots = ["~/data", "/srv"]\n`)
    expect(ok(["--config", file]).config).toMatchObject({ localRoots: [path.join(home, "data"), "/srv"], configPath: file })
    expect(ok(["--config", file, "--local-root", "/x"]).config.localRoots).toEqual(["/x"])
    expect(error(["--local-root", "relative/dir"])).toMatch(/^--local-root: "relative\/dir" is not an absolute path$/)
    expect(error(["--config", write("roots-rel.toml", `[server]\nlocal_roots = ["data"]\n`)])).toMatch(/^roots-rel\.toml: server\.local_roots: "data"/)
  })

  it("reads the tunnel switch and limits (flag or [server] / [limits] key)", () => {
    expect(ok([]).config).toMatchObject({ allowTunnelBindAny: false, limits: { maxTunnelsPerHost: 20, maxTunnelConnections: 64 } })
    expect(ok(["--allow-tunnel-bind-any", "--max-tunnels-per-host", "3"]).config).toMatchObject({
      allowTunnelBindAny: true, limits: { maxTunnelsPerHost: 3 }
    })
    const file = write("tunnels.toml", "[server]\nallow_tunnel_bind_any = true\n\n[limits]\nmax_tunnel_connections = 5\n")
    expect(ok(["--config", file]).config).toMatchObject({ allowTunnelBindAny: true, limits: { maxTunnelConnections: 5 } })
    expect(error(["--max-tunnels-per-host", "0"])).toMatch(/--max-tunnels-per-host/)
  })

  it("reads the host-key trust switches, algorithm lists and connection limits", () => {
    const dflt = ok([])
    expect(dflt.config.allowAgentInsecureAutoAdd).toBe(false)
    expect(dflt.config.algorithms).toBeUndefined()
    expect(dflt.config.limits).toMatchObject({ extraConnectionIdleSec: 60, maxHosts: 256 })
    const file = write("trust.toml", `
[limits]
extra_connection_idle_sec = 5
max_hosts = 10

[server]
allow_agent_insecure_auto_add = true

[server.algorithms]
server_host_key = ["ssh-ed25519", "ssh-rsa"]
hmac = ["hmac-sha2-256", "hmac-sha1"]
`)
    const s = ok(["--config", file, "--max-hosts", "3"])
    expect(s.config.allowAgentInsecureAutoAdd).toBe(true)
    expect(s.config.algorithms).toEqual({ serverHostKey: ["ssh-ed25519", "ssh-rsa"], hmac: ["hmac-sha2-256", "hmac-sha1"] })
    expect(s.config.limits).toMatchObject({ extraConnectionIdleSec: 5, maxHosts: 3 })
    expect(ok(["--allow-agent-insecure-auto-add", "--extra-connection-idle-sec", "2"]).config).toMatchObject({
      allowAgentInsecureAutoAdd: true, limits: { extraConnectionIdleSec: 2 }
    })
    expect(error(["--config", write("alg.toml", `[server.algorithms]\nkex = ["diffie-hellman-group0-md4"]\n`)]))
      .toMatch(/server\.algorithms\.kex: "diffie-hellman-group0-md4" is not supported/)
    expect(error(["--config", write("alg2.toml", `[server.algorithms]\ncipher = []\n`)])).toMatch(/server\.algorithms\.cipher/)
    expect(error(["--config", write("alg3.toml", `[server.algorithms]\nmac = ["hmac-sha1"]\n`)])).toMatch(/server\.algorithms\.mac/)
    expect(error(["--max-hosts", "0"])).toMatch(/--max-hosts/)
  })

  it("answers --help and --version", () => {
    expect(Exit.isSuccess(load(["--help"])) && (load(["--help"]) as Exit.Success<Startup>).value._tag).toBe("Help")
    expect((load(["-V"]) as Exit.Success<Startup>).value._tag).toBe("Version")
  })

  it("documents every flag in --help and in docs/CONFIG.md", () => {
    const doc = fs.readFileSync(new URL("../../../docs/CONFIG.md", import.meta.url), "utf8")
    const flags = [...helpText.matchAll(/(--[a-z-]+)/g)].map((m) => m[1]!)
    expect(flags.length).toBeGreaterThan(20)
    for (const f of new Set(flags)) expect(doc, f).toContain(f)
  })
})
