/**
 * The `tools/list` answer is read by the model in every session: it must stay small
 * (≤ 1 250 bytes per tool on average: 15 000 for the first 12) and without schema noise, and every result must
 * still match its published outputSchema (SDK 1.x clients check that).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/client/validators/ajv"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailToEnd } from "../support/mcp.js"
import { type ListedTool, rawToolsList } from "../support/rawToolsList.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

/** Bytes per tool on average; the first 12 tools fitted in 15 000. */
const PER_TOOL = 1_250

/** Every sub-schema of a JSON Schema, with its path. */
const walk = function*(schema: unknown, at = "#"): Generator<[string, Record<string, unknown>]> {
  if (typeof schema !== "object" || schema === null) return
  if (Array.isArray(schema)) {
    for (const [i, s] of schema.entries()) yield* walk(s, `${at}/${i}`)
    return
  }
  const s = schema as Record<string, unknown>
  yield [at, s]
  for (const [k, v] of Object.entries(s)) {
    if (k === "enum" || k === "const" || k === "required") continue
    if (k === "properties" && typeof v === "object" && v !== null) {
      for (const [name, p] of Object.entries(v)) yield* walk(p, `${at}/properties/${name}`)
    } else yield* walk(v, `${at}/${k}`)
  }
}

describe("tools/list size", () => {
  let listed: { json: string; tools: Array<ListedTool> }

  beforeAll(async () => {
    listed = await rawToolsList()
  })

  it(`is at most ${PER_TOOL} bytes per tool`, () => {
    const bytes = Buffer.byteLength(listed.json)
    process.stderr.write(`[measure] tools/list: ${listed.tools.length} tools, ${bytes} bytes, ~${Math.round(bytes / 4)} tokens\n`)
    expect(listed.tools.length).toBeGreaterThanOrEqual(12)
    expect(bytes).toBeLessThanOrEqual(PER_TOOL * listed.tools.length)
  })

  it("publishes schemas without noise", () => {
    for (const tool of listed.tools) {
      for (const side of ["inputSchema", "outputSchema"] as const) {
        for (const [at, s] of walk(tool[side])) {
          const where = `${tool.name} ${side} ${at}`
          expect(s.$schema, where).toBeUndefined()
          expect(s.additionalProperties, where).not.toBe(true)
          expect(s.minimum, where).not.toBe(Number.MIN_SAFE_INTEGER)
          expect(s.maximum, where).not.toBe(Number.MAX_SAFE_INTEGER)
          const maxLength = s.maxLength as number | undefined
          expect(maxLength === undefined || maxLength <= 1000, `${where}: a guard limit published`).toBe(true)
          const anyOf = s.anyOf as Array<{ type?: unknown }> | undefined
          expect(anyOf?.some((a) => a.type === "null") ?? false, `${where}: nullable as anyOf`).toBe(false)
          if (side === "outputSchema") expect(s.description, `${where}: described output field`).toBeUndefined()
          // Outputs are the services' camelCase results renamed by Schema (snakeKeys): what is published is what is sent.
          for (const name of Object.keys((s.properties ?? {}) as object)) expect(name, `${where}: a camelCase key`).toMatch(/^[a-z0-9_]+$/)
        }
      }
      expect(tool.description.length, tool.name).toBeLessThanOrEqual(450)
    }
  })

  it("still publishes what a caller needs: types, enums, bounds, defaults, required inputs", () => {
    const byName = Object.fromEntries(listed.tools.map((t) => [t.name, t]))
    const tail = byName.ssh_tail!.inputSchema as { properties: Record<string, Record<string, unknown>>; required: Array<string> }
    expect(tail.required).toEqual(["job_id"])
    // Above 45 s a wait is cut (the result says so), not refused: no maximum to publish.
    expect(tail.properties.wait_ms).toMatchObject({ type: "integer", minimum: 0 })
    expect(tail.properties.wait_ms!.maximum).toBeUndefined()
    expect(tail.properties.format).toMatchObject({ enum: ["text", "lines"] })
    expect(tail.properties.last).toMatchObject({ type: "integer", minimum: 0 })
    expect(tail.properties.min_lines).toMatchObject({ type: "integer", minimum: 1 })
    expect(tail.properties.stream).toMatchObject({ enum: ["both", "stdout", "stderr"] })
    expect(tail.properties.since_line_no!.minimum).toBe(0)
    const exec = byName.ssh_exec!.outputSchema as { properties: Record<string, Record<string, unknown>> }
    expect(exec.properties.exit_status).toEqual({ type: ["integer", "null"] })
    expect(exec.properties.job_id).toEqual({ type: ["string", "null"] })
    expect(exec.properties.awaiting_input).toEqual({ type: "boolean" })
    const list = byName.ssh_list_jobs!.outputSchema as { properties: { jobs: { items: { properties: Record<string, Record<string, unknown>> } } } }
    expect(list.properties.jobs.items.properties.end_reason!.enum).toContain(null)
  })
})

describeWithSshd("results match the published outputSchema", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let schemas: Record<string, Record<string, unknown>>
  const validator = new AjvJsonSchemaValidator()
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-schema-"))

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    const { tools } = await server.client.listTools()
    schemas = Object.fromEntries(tools.map((t) => [t.name, t.outputSchema as Record<string, unknown>]))
  })
  afterAll(async () => {
    await server?.close()
  })

  /** Call and check the result against the tool's outputSchema, as an SDK 1.x client does. */
  const checked = async (name: string, args: Record<string, unknown>) => {
    const r = await call(server, name, args)
    expect(r.isError, `${name}: ${r.text}`).toBe(false)
    const result = validator.getValidator(schemas[name]!)(r.data)
    expect(result.valid, `${name}: ${result.errorMessage ?? ""}`).toBe(true)
    return r.data
  }

  it("for every tool's happy path", async () => {
    // The check has teeth: a wrong type fails it.
    expect(validator.getValidator(schemas.ssh_exec!)({ exit_status: "0" }).valid).toBe(false)
    await checked("ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
    await checked("ssh_list_hosts", {})
    await checked("ssh_exec", { command: "echo hi; echo err >&2" })
    await checked("ssh_exec", { command: "seq 1 100000" })
    await checked("ssh_exec_many", { hosts: ["box"], command: "echo hi; seq 1 100000 >&2" })
    const handed = await checked("ssh_exec", { command: "read -p 'Go? [y/N] ' x; echo $x", pty: true, background_after_ms: 10_000 })
    await checked("ssh_send_stdin", { job_id: handed.job_id, data: "y\n" })
    await tailToEnd(server, handed.job_id as string)
    const job = await checked("ssh_spawn", { command: "echo READY; sleep 30", label: "l" })
    await checked("ssh_tail", { job_id: job.job_id, wait_ms: 10_000, until: "READY" })
    await checked("ssh_tail", { job_id: job.job_id })
    // The per-line form, and a wait cut to 45 s (with its note), validate too.
    expect(await checked("ssh_tail", { job_id: job.job_id, since_line_no: 0, until: "READY", format: "lines" })).toHaveProperty("lines")
    expect(await checked("ssh_tail", { job_id: job.job_id, last: 1, min_lines: 1, wait_ms: 50_000 })).toHaveProperty("note")
    await checked("ssh_list_jobs", {})
    await checked("ssh_list_jobs", { cursor: 1 })
    await checked("ssh_signal", { job_id: job.job_id, signal: "TERM" })
    await checked("ssh_remove_job", { job_id: job.job_id })
    const running = await checked("ssh_spawn", { command: "sleep 30" })
    await checked("ssh_remove_job", { job_id: running.job_id, force: true })
    const file = path.join(local, "f.txt")
    fs.writeFileSync(file, "content\n")
    const remote = `/tmp/mcpssh-schema-${process.pid}.txt`
    await checked("ssh_upload", { local_path: file, remote_path: remote })
    await checked("ssh_download", { local_path: path.join(local, "back.txt"), remote_path: remote })
    fs.mkdirSync(path.join(local, "tree"))
    fs.writeFileSync(path.join(local, "tree", "a.txt"), "a\n")
    await checked("ssh_upload", { local_path: path.join(local, "tree"), remote_path: `${remote}.d`, detail: true })
    await sshd.exec(`rm -rf ${remote}.d`)
    await sshd.exec(`rm -f ${remote}`)
    const tunnel = await checked("ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: sshd.port })
    await checked("ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
    await checked("ssh_tunnel_list", {})
    await checked("ssh_tunnel_close", { tunnel_id: tunnel.tunnel_id })
    // Hand-off: a tmux job, its screen, keys, a person's pane followed.
    const tmuxJob = await checked("ssh_spawn", { command: "printf 'ready> '; read x; echo got $x", tmux: true })
    expect(tmuxJob.attach).toContain("tmux -L mcp-ssh-live attach")
    await checked("ssh_tail", { job_id: tmuxJob.job_id, wait_ms: 10_000, until: "ready" })
    await checked("ssh_screen", { job_id: tmuxJob.job_id })
    const screen = await checked("ssh_screen", { job_id: tmuxJob.job_id, since_version: 1 })
    expect(screen.changed).toEqual({})
    await checked("ssh_send_stdin", { job_id: tmuxJob.job_id, data: "yes", keys: ["Enter"] })
    await tailToEnd(server, tmuxJob.job_id as string)
    await checked("ssh_remove_job", { job_id: tmuxJob.job_id })
    const pty = await checked("ssh_spawn", { command: "cat", pty: true })
    await checked("ssh_send_stdin", { job_id: pty.job_id, keys: ["Up", "C-c"] })
    const session = `schema-${process.pid}`
    await sshd.exec(`su - ${sshd.user.name} -c 'tmux new-session -d -s ${session} sh'`)
    try {
      const panes = await checked("ssh_list_panes", {})
      expect((panes.panes as Array<{ target: string }>).map((p) => p.target)).toContain(`${session}:0.0`)
      const followed = await checked("ssh_follow_pane", { target: `${session}:0.0` })
      await checked("ssh_screen", { job_id: followed.job_id })
      await checked("ssh_remove_job", { job_id: followed.job_id, force: true })
    } finally {
      await sshd.exec(`su - ${sshd.user.name} -c 'tmux kill-session -t ${session}'`)
    }
    await checked("ssh_disconnect", { host: "box" })
  })
})
