/**
 * The foundation end to end: the built server over stdio, driven by the MCP SDK
 * client, against a real OpenSSH sshd.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer } from "../support/mcp.js"

const TOOL_NAMES = [
  "ssh_connect",
  "ssh_disconnect",
  "ssh_list_hosts",
  "ssh_exec",
  "ssh_spawn",
  "ssh_tail",
  "ssh_signal",
  "ssh_send_stdin",
  "ssh_list_jobs",
  "ssh_remove_job",
  "ssh_upload",
  "ssh_download",
  "ssh_exec_many",
  "ssh_tunnel_open",
  "ssh_tunnel_list",
  "ssh_tunnel_close",
  "ssh_screen",
  "ssh_list_panes",
  "ssh_follow_pane"
]

for (const m of CLIENT_MATRIX) describeWithSshd(`foundation over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ transport: m.transport, client: m.client, args: ["--known-hosts", sshd.knownHostsPath] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("lists every tool with input and output schemas", async () => {
    const { tools } = await server.client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort())
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object")
      expect(t.outputSchema?.type).toBe("object")
      expect(t.description?.length ?? 0).toBeGreaterThan(40)
      expect(t.annotations).toBeDefined()
    }
    const exec = tools.find((t) => t.name === "ssh_exec")!
    expect(exec.inputSchema.required).toEqual(["command"])
    expect(Object.keys(exec.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["command", "host", "timeout_ms", "env", "cwd", "stdin", "pty"])
    )
  })

  it("rejects bad input with an error naming the field", async () => {
    const r = await call(server, "ssh_exec", { command: 42, timeout_ms: -5 })
    expect(r.isError).toBe(true)
    expect(r.text).toMatch(/command/)
    expect(r.text).toMatch(/timeout_ms/)
    const unknown = await call(server, "ssh_exec", { command: "true", timeout: 5 })
    expect(unknown.isError).toBe(true)
    expect(unknown.text).toMatch(/timeout/)
  })

  it("reports HOST_NOT_FOUND when no host is registered", async () => {
    const r = await call(server, "ssh_exec", { command: "true" })
    expect(r.isError).toBe(true)
    expect((r.data.error as { code: string }).code).toBe("HOST_NOT_FOUND")
  })

  it("connects by key and runs commands", async () => {
    const r = await call(server, "ssh_connect", {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      key_path: sshd.clientKeyPath,
      alias: "bykey"
    })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ alias: "bykey", user: sshd.user.name, auth_method: "publickey", is_default: true })
    expect(r.data.host_key_fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(r.data.server_banner).toMatch(/OpenSSH/)

    const host = await call(server, "ssh_exec", { command: "hostname" })
    expect(host.isError, host.text).toBe(false)
    expect(host.data).toMatchObject({ exit_status: 0, signal: null, timed_out: false, truncated: false })
    expect((host.data.stdout as string).trim()).toBe((await sshd.exec("hostname")).stdout.trim())
    expect(host.data.stdout).not.toContain("__mcp_ssh_live_pid__")
  })

  it("reports a non-zero exit status and stderr", async () => {
    const r = await call(server, "ssh_exec", { command: "echo oops >&2; exit 3" })
    expect(r.data).toMatchObject({ exit_status: 3, stdout: "", stderr: "oops\n" })
  })

  it("passes env, cwd and stdin, and runs with a pty", async () => {
    const env = await call(server, "ssh_exec", { command: "echo \"$GREETING $OTHER\"", env: { GREETING: "hello 'world'", OTHER: "$HOME" } })
    expect(env.data.stdout).toBe("hello 'world' $HOME\n")
    const cwd = await call(server, "ssh_exec", { command: "pwd", cwd: "/tmp" })
    expect(cwd.data.stdout).toBe("/tmp\n")
    const badCwd = await call(server, "ssh_exec", { command: "pwd", cwd: "/does/not/exist" })
    expect(badCwd.data.exit_status).not.toBe(0)
    const stdin = await call(server, "ssh_exec", { command: "tr a-z A-Z", stdin: "shout\n" })
    expect(stdin.data.stdout).toBe("SHOUT\n")
    const pty = await call(server, "ssh_exec", { command: "test -t 1 && echo tty || echo notty", pty: true })
    expect(pty.data.stdout).toBe("tty\r\n")
    const nopty = await call(server, "ssh_exec", { command: "test -t 1 && echo tty || echo notty" })
    expect(nopty.data.stdout).toBe("notty\n")
    const badEnv = await call(server, "ssh_exec", { command: "true", env: { "BAD NAME": "x" } })
    expect(badEnv.isError).toBe(true)
    expect(badEnv.data).toMatchObject({ error: { code: "INVALID_ARGUMENT" } })
    expect(badEnv.text).toMatch(/env/)
  })

  it("caps a 200 000-line output within the 16 KiB reply, keeping head and tail around a marker naming the job", async () => {
    const r = await call(server, "ssh_exec", { command: "seq 1 200000" })
    expect(r.data.exit_status).toBe(0)
    expect(r.data.truncated).toBe(true)
    const out = r.data.stdout as string
    expect(out.startsWith("1\n2\n3\n")).toBe(true)
    expect(out.endsWith("199999\n200000\n")).toBe(true)
    expect(out).toMatch(new RegExp(`\\n… \\d+ bytes omitted; ssh_tail job_id ${r.data.job_id} stream stdout since_line_no \\d+ pages them[^…\\n]* …\\n`))
    expect(Buffer.byteLength(JSON.stringify(r.data))).toBeLessThanOrEqual(16_384)
    const total = Number(/… (\d+) bytes omitted/.exec(out)![1])
    expect(r.data.stdout_bytes).toBe(1_288_895)
    expect(total).toBeGreaterThan(1_288_895 - 16_384)
  })

  it("stops a timed-out command and all its children", async () => {
    const token = 600_000 + Math.floor(Math.random() * 99_999)
    const started = Date.now()
    const r = await call(server, "ssh_exec", {
      command: `sleep ${token} | cat & sleep ${token + 1}; echo never`,
      timeout_ms: 1500
    })
    expect(r.data.timed_out).toBe(true)
    expect(r.data.stdout).not.toContain("never")
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(await waitNoProcess(sshd, `sleep ${token}`)).toBe("")
    expect(await waitNoProcess(sshd, `sleep ${token + 1}`)).toBe("")
  })

  it("connects by password, and never shows the password", async () => {
    const r = await call(server, "ssh_connect", {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      password: sshd.user.password,
      alias: "bypass"
    })
    expect(r.isError, r.text).toBe(false)
    expect(r.data.auth_method).toMatch(/password|keyboard-interactive/)
    const who = await call(server, "ssh_exec", { command: "id -un", host: "bypass" })
    expect(who.data.stdout).toBe(`${sshd.user.name}\n`)
    const list = await call(server, "ssh_list_hosts", {})
    expect(list.text).not.toContain(sshd.user.password)
    expect(JSON.stringify(list.data)).not.toContain(sshd.user.password)
    expect(list.data.hosts).toEqual(expect.arrayContaining([
      expect.objectContaining({ alias: "bypass", auth_method: "password", connected: true, source: "runtime" }),
      expect.objectContaining({ alias: "bykey", auth_method: "key", key_path: sshd.clientKeyPath, connected: true })
    ]))
    expect(server.stderr()).not.toContain(sshd.user.password)
  })

  it("reports a wrong password as AUTH_FAILED naming what was tried", async () => {
    const r = await call(server, "ssh_connect", {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user.name,
      password: "definitely-wrong-password",
      alias: "wrong"
    })
    expect(r.isError).toBe(true)
    expect(r.data).toMatchObject({ error: { code: "AUTH_FAILED" } })
    expect(r.text).toMatch(/password/)
    expect(r.text).not.toContain("definitely-wrong-password")
    const list = await call(server, "ssh_list_hosts", {})
    expect((list.data.hosts as Array<{ alias: string }>).map((h) => h.alias)).not.toContain("wrong")
  })

  it("refuses an alias reused with other settings unless replace", async () => {
    const r = await call(server, "ssh_connect", { host: "127.0.0.2", port: sshd.port, alias: "bykey" })
    expect(r.data).toMatchObject({ error: { code: "HOST_EXISTS" } })
  })

  it("disconnects a host and drops it", async () => {
    const r = await call(server, "ssh_disconnect", { host: "bypass" })
    expect(r.data).toMatchObject({ alias: "bypass", was_connected: true, terminated_jobs: [] })
    const again = await call(server, "ssh_exec", { command: "true", host: "bypass" })
    expect(again.data).toMatchObject({ error: { code: "HOST_NOT_FOUND" } })
  })

  it("wrote nothing but JSON-RPC to stdout", () => {
    expect(server.transportErrors).toEqual([])
  })
})

describeWithSshd("host key verification", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })

  it("refuses an unknown host key with its fingerprint, then accepts and records it with insecure_auto_add", async () => {
    const knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--allow-agent-insecure-auto-add"] })
    try {
      const args = { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath }
      const refused = await call(server, "ssh_connect", args)
      expect(refused.isError).toBe(true)
      const error = refused.data.error as { code: string; message: string }
      expect(error.code).toBe("HOST_KEY_UNKNOWN")
      const fingerprint = (await sshd.exec(`ssh-keygen -lf ${sshd.hostKeyPath}.pub`)).stdout.split(" ")[1]!
      expect(error.message).toContain(fingerprint)
      expect(fs.existsSync(knownHosts)).toBe(false)

      const accepted = await call(server, "ssh_connect", { ...args, insecure_auto_add: true })
      expect(accepted.isError, accepted.text).toBe(false)
      expect(accepted.data.host_key_fingerprint).toBe(fingerprint)
      expect(fs.readFileSync(knownHosts, "utf8")).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `)
    } finally {
      await server.close()
    }
    // The recorded key is trusted by a new server run without insecure_auto_add.
    const again = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      const r = await call(again, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      expect(r.isError, r.text).toBe(false)
    } finally {
      await again.close()
    }
  })

  it("refuses a changed host key, even with insecure_auto_add", async () => {
    const dir = fs.mkdtempSync(path.join(sshd.dir, "kh-"))
    const otherKey = path.join(dir, "other")
    await sshd.exec(`ssh-keygen -q -t ed25519 -N '' -f ${otherKey}`)
    const pub = fs.readFileSync(`${otherKey}.pub`, "utf8").split(" ")
    const knownHosts = path.join(dir, "known_hosts")
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${pub[0]} ${pub[1]}\n`)
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--allow-agent-insecure-auto-add"] })
    try {
      const r = await call(server, "ssh_connect", {
        host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, insecure_auto_add: true
      })
      expect(r.data).toMatchObject({ error: { code: "HOST_KEY_MISMATCH" } })
      expect(fs.readFileSync(knownHosts, "utf8").trim().split("\n")).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  it("accepts a hashed known_hosts entry", async () => {
    const dir = fs.mkdtempSync(path.join(sshd.dir, "kh-"))
    const knownHosts = path.join(dir, "known_hosts")
    fs.copyFileSync(sshd.knownHostsPath, knownHosts)
    await sshd.exec(`ssh-keygen -H -f ${knownHosts} && rm -f ${knownHosts}.old`)
    expect(fs.readFileSync(knownHosts, "utf8")).toMatch(/^\|1\|/)
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      expect(r.isError, r.text).toBe(false)
    } finally {
      await server.close()
    }
  })
})

describe("stdout discipline", () => {
  it("--version and --help answer without starting a session", async () => {
    const { execFileSync } = await import("node:child_process")
    const { MAIN } = await import("../support/mcp.js")
    expect(execFileSync(process.execPath, [MAIN, "--version"]).toString()).toMatch(/^mcp-ssh-live \d+\.\d+\.\d+\n$/)
    expect(execFileSync(process.execPath, [MAIN, "--help"]).toString()).toMatch(/--known-hosts/)
  })
})
