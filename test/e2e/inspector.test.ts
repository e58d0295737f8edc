/**
 * The MCP Inspector's CLI (`@modelcontextprotocol/inspector --cli`) as a client nobody
 * here wrote: every tool's happy path and one error each, against a real sshd. Each
 * CLI run is one process and one MCP session: over stdio it starts its own server
 * (the host comes from --host/--key/--known-hosts flags, so each run can connect);
 * the job tools need a job that outlives one run, so they go to one server over HTTP.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, expect, it } from "vitest"
import { MAIN, type McpServerProcess, parseErrorText, startMcpServer, tailLines } from "../support/mcp.js"
import { describeWithSshd, type Sshd, boxArgs } from "../support/sshd.js"

const INSPECTOR = fileURLToPath(
  new URL("../../node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js", import.meta.url)
)

/** One process per call (inspector + server): seconds each on a loaded machine. */
const SLOW = 300_000

type Target = { readonly stdio: ReadonlyArray<string> } | { readonly url: string; readonly token: string }

interface Outcome {
  readonly exitCode: number | null
  readonly result: Record<string, unknown>
  readonly stderr: string
}

/** `--tool-arg k=v` JSON-parses v when it can: quote strings that would parse as something else. */
const toolArg = (key: string, value: unknown): string => {
  if (typeof value !== "string") return `${key}=${JSON.stringify(value)}`
  let parses = true
  try {
    JSON.parse(value)
  } catch {
    parses = false
  }
  return `${key}=${parses ? JSON.stringify(value) : value}`
}

const inspect = (home: string, target: Target, method: string, tool?: string, args: Record<string, unknown> = {}) =>
  new Promise<Outcome>((resolve, reject) => {
    const argv = [INSPECTOR, "--cli", "--format", "json", "-q", "--method", method]
    if (tool !== undefined) {
      argv.push("--tool-name", tool)
      for (const [k, v] of Object.entries(args)) argv.push("--tool-arg", toolArg(k, v))
    }
    if ("url" in target) argv.push("--server-url", target.url, "--header", `Authorization: Bearer ${target.token}`)
    else argv.push("--", process.execPath, MAIN, ...target.stdio)
    // A throwaway HOME: the inspector keeps a catalog under ~/.mcp-inspector.
    const child = spawn(process.execPath, argv, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: process.env.USER ?? "root" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("error", reject)
    child.once("close", (exitCode) => {
      try {
        const parsed = JSON.parse(stdout) as { result?: Record<string, unknown> }
        resolve({ exitCode, result: parsed.result ?? {}, stderr })
      } catch {
        reject(new Error(`inspector ${method} ${tool ?? ""}: no JSON on stdout (exit ${exitCode}): ${stdout} ${stderr}`))
      }
    })
  })

const textOf = (result: Record<string, unknown>): string =>
  (Array.isArray(result.content) ? result.content : [])
    .map((c: { type?: string; text?: string }) => (c.type === "text" ? c.text ?? "" : ""))
    .join("\n")

/** A tool call through the inspector that must succeed, with structuredContent. */
const ok = async (home: string, target: Target, tool: string, args: Record<string, unknown> = {}) => {
  const r = await inspect(home, target, "tools/call", tool, args)
  expect(r.result.isError, `${tool}: ${textOf(r.result)} ${r.stderr}`).not.toBe(true)
  expect(r.exitCode, tool).toBe(0)
  expect(r.result.structuredContent, tool).toBeTypeOf("object")
  return r.result.structuredContent as Record<string, unknown>
}

/** A tool call that must come back as a tool error (not a protocol error): `CODE: message (hint: …)`. */
const fails = async (home: string, target: Target, tool: string, args: Record<string, unknown>, code?: string) => {
  const r = await inspect(home, target, "tools/call", tool, args)
  expect(r.result.isError, `${tool}: ${JSON.stringify(r.result)} ${r.stderr}`).toBe(true)
  expect(r.result.structuredContent, tool).toBeUndefined()
  expect(r.stderr, tool).not.toMatch(/-32602|output schema/i)
  const text = textOf(r.result)
  if (code !== undefined) expect(parseErrorText(text), `${tool}: ${text}`).toMatchObject({ code })
  return text
}

describeWithSshd("MCP Inspector CLI", (getSshd) => {
  let sshd: Sshd
  let home: string
  let stdio: Target
  let http: McpServerProcess
  let httpTarget: Target
  let remote: string

  beforeAll(async () => {
    sshd = getSshd()
    home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-inspector-"))
    remote = `/tmp/mcpssh-inspector-${randomBytes(4).toString("hex")}`
    await sshd.exec(`mkdir -p ${remote} && chown ${sshd.user.name} ${remote}`)
    const hostArgs = boxArgs(sshd)
    stdio = { stdio: hostArgs }
    http = await startMcpServer({ transport: "http", args: hostArgs })
    httpTarget = { url: http.http!.url, token: http.http!.token }
  })
  afterAll(async () => {
    await http?.close()
    await sshd?.exec(`rm -rf ${remote}`)
  })

  it("lists the nineteen tools", async () => {
    const r = await inspect(home, stdio, "tools/list")
    expect(r.exitCode).toBe(0)
    const tools = r.result.tools as Array<{ name: string }>
    expect(tools.map((t) => t.name)).toHaveLength(19)
  }, SLOW)

  it("host tools over stdio: list_hosts, connect, exec, disconnect happy paths", async () => {
    const hosts = await ok(home, stdio, "ssh_list_hosts")
    expect(hosts.hosts).toEqual([expect.objectContaining({ alias: "box", source: "cli" })])
    const c = await ok(home, stdio, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "again"
    })
    expect(c.host_key_fingerprint).toMatch(/^SHA256:/)
    const e = await ok(home, stdio, "ssh_exec", { command: "echo from inspector", host: "box" })
    expect(e.stdout).toBe("from inspector\n")
    const many = await ok(home, stdio, "ssh_exec_many", { command: "echo from inspector", hosts: ["box"] })
    expect(many).toMatchObject({ ok: 1, failed: 0, results: [{ host: "box", stdout: "from inspector\n", error: null }] })
    const d = await ok(home, stdio, "ssh_disconnect", { host: "box" })
    expect(d).toBeTypeOf("object")
  }, SLOW)

  it("host tools over stdio: one error each", async () => {
    await fails(home, stdio, "ssh_list_hosts", { bogus: 1 })
    await fails(home, stdio, "ssh_connect", { host: "127.0.0.1", port: 1, user: "nobody", alias: "dead" })
    await fails(home, stdio, "ssh_exec", { command: "true", host: "nowhere" }, "HOST_NOT_FOUND")
    await fails(home, stdio, "ssh_disconnect", { host: "nowhere" }, "HOST_NOT_FOUND")
    await fails(home, stdio, "ssh_exec_many", { command: "true", group: "nowhere" }, "INVALID_ARGUMENT")
  }, SLOW)

  it("files over stdio: upload, download, and their refusals", async () => {
    const local = path.join(home, "up.txt")
    fs.writeFileSync(local, "inspector upload\n")
    const up = await ok(home, stdio, "ssh_upload", { local_path: local, remote_path: `${remote}/up.txt` })
    expect(up.verified).toBe(true)
    expect((await sshd.exec(`cat ${remote}/up.txt`)).stdout).toBe("inspector upload\n")
    const down = path.join(home, "down.txt")
    const dl = await ok(home, stdio, "ssh_download", { remote_path: `${remote}/up.txt`, local_path: down })
    expect(dl.verified).toBe(true)
    expect(fs.readFileSync(down, "utf8")).toBe("inspector upload\n")

    await fails(home, stdio, "ssh_upload", { local_path: local, remote_path: `${remote}/up.txt`, overwrite: false }, "SFTP_FAILED")
    await fails(home, stdio, "ssh_download", { remote_path: `${remote}/missing`, local_path: path.join(home, "x") }, "SFTP_FAILED")
  }, SLOW)

  it("tunnel tools over HTTP: open, list, close, and their refusals", async () => {
    const t = await ok(home, httpTarget, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
    expect(t.bind_port).toBeGreaterThan(0)
    const l = await ok(home, httpTarget, "ssh_tunnel_list")
    expect(l.tunnels).toEqual([expect.objectContaining({ tunnel_id: t.tunnel_id, connections: 0, last_error: null })])
    const c = await ok(home, httpTarget, "ssh_tunnel_close", { tunnel_id: t.tunnel_id })
    expect(c).toEqual({ tunnel_id: t.tunnel_id, closed: true })
    await fails(home, httpTarget, "ssh_tunnel_close", { tunnel_id: t.tunnel_id }, "TUNNEL_NOT_FOUND")
    await fails(home, httpTarget, "ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "x" }, "INVALID_ARGUMENT")
  }, SLOW)

  it("job tools over one HTTP server: spawn, send_stdin, tail, list_jobs, signal, remove_job", async () => {
    const s = await ok(home, httpTarget, "ssh_spawn", { command: "cat; sleep 300", label: "inspected" })
    const jobId = s.job_id as string
    await ok(home, httpTarget, "ssh_send_stdin", { job_id: jobId, data: "hello inspector\n" })
    const t = await ok(home, httpTarget, "ssh_tail", { job_id: jobId, wait_ms: 10_000, until: "hello inspector" })
    expect(tailLines(t).map((l) => l.text)).toContain("hello inspector")
    const list = await ok(home, httpTarget, "ssh_list_jobs", {})
    expect(list.jobs).toEqual(expect.arrayContaining([expect.objectContaining({ job_id: jobId, label: "inspected" })]))
    const sig = await ok(home, httpTarget, "ssh_signal", { job_id: jobId, signal: "KILL" })
    expect(sig.sent_via_channel === true || sig.sent_via_pid === true).toBe(true)
    await ok(home, httpTarget, "ssh_remove_job", { job_id: jobId, force: true })

    await fails(home, httpTarget, "ssh_spawn", { command: "true", persistent: true, pty: true }, "INVALID_ARGUMENT")
    for (const tool of ["ssh_send_stdin", "ssh_tail", "ssh_signal", "ssh_remove_job"]) {
      const args: Record<string, unknown> = { job_id: jobId }
      if (tool === "ssh_send_stdin") args.data = "x"
      if (tool === "ssh_signal") args.signal = "TERM"
      await fails(home, httpTarget, tool, args, "JOB_NOT_FOUND")
    }
    await fails(home, httpTarget, "ssh_list_jobs", { status: "bogus" })
  }, SLOW)
})
