/**
 * Every tool fed malformed arguments derived from its published input schema: wrong
 * types, out-of-range numbers, missing required fields, unknown keys, huge strings,
 * NUL bytes, unknown job ids, invalid regexes. Each gets an answer (a tool error where
 * the input is invalid), the server keeps serving, stdout stays JSON-RPC.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, boxArgs } from "../support/sshd.js"

interface Prop { type?: string; enum?: Array<unknown>; minimum?: number; maximum?: number; anyOf?: Array<Prop>; additionalProperties?: unknown }
interface InputSchema { properties?: Record<string, Prop>; required?: Array<string> }

/** A small seeded generator, so a failure can be replayed. */
const rng = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
  return seed / 2 ** 31
}

const wrongValues = (p: Prop): Array<unknown> => {
  const type = p.type ?? p.anyOf?.find((a) => a.type !== "null")?.type
  const out: Array<unknown> = [null, [], { nested: true }]
  if (type !== "string") out.push("a string", "")
  if (type !== "integer" && type !== "number") out.push(42, -1.5)
  if (type !== "boolean") out.push(true)
  if (type === "integer") out.push(1.5, p.maximum !== undefined ? p.maximum + 1 : 2 ** 60, p.minimum !== undefined ? p.minimum - 1 : -(2 ** 60))
  if (p.enum !== undefined) out.push("NOT_A_MEMBER")
  if (type === "object") out.push({ "bad key": 5 })
  return out
}

/** Values of the right type that are still nasty: huge, NUL, unknown ids, bad regex. */
const nastyValues = (name: string, p: Prop): Array<unknown> => {
  if (p.type !== "string" && p.anyOf === undefined) return []
  const v: Array<unknown> = ["x".repeat(2_000_000), "a\u0000b", "\u{1F4A3}\uFFFF\uD800", "'; rm -rf / #"]
  if (name === "job_id") v.push("job-doesnotexist", "../../etc/passwd")
  if (name === "until") v.push("([", "(?<", "*", "(?=a)", "(a)\\1", "^(a+)+$")
  if (name.endsWith("path") || name === "cwd") v.push("/tmp/\u0000/x")
  return v
}

for (const m of CLIENT_MATRIX) describeWithSshd(`bad input (${m.name})`, (getSshd) => {
  let server: McpServerProcess
  let tried = 0
  let toolErrors = 0

  beforeAll(async () => {
    const sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: boxArgs(sshd)
    })
  })
  afterAll(async () => {
    process.stderr.write(`[measure] bad-input suite: ${tried} inputs tried, ${toolErrors} tool errors, server still serving\n`)
    await server?.close()
  })

  it("answers every malformed call with a tool error naming the field, and keeps serving", async () => {
    const { tools } = await server.client.listTools()
    for (const tool of tools) {
      const schema = tool.inputSchema as InputSchema
      const props = schema.properties ?? {}
      const base: Record<string, unknown> = {}
      for (const req of schema.required ?? []) base[req] = props[req]?.type === "string" ? "true" : 1
      // Missing required fields.
      for (const req of schema.required ?? []) {
        const args = { ...base }
        delete args[req]
        const r = await call(server, tool.name, args)
        tried++
        expect(r.isError, `${tool.name} without ${req}`).toBe(true)
        expect(r.text).toContain(req)
        toolErrors++
      }
      // Unknown keys.
      const unknown = await call(server, tool.name, { ...base, definitely_not_a_field: 1 })
      tried++
      expect(unknown.isError, `${tool.name} with an unknown key`).toBe(true)
      expect(unknown.text).toContain("definitely_not_a_field")
      toolErrors++
      // Wrong types and out-of-range values, field by field.
      for (const [name, p] of Object.entries(props)) {
        for (const value of wrongValues(p)) {
          const r = await call(server, tool.name, { ...base, [name]: value })
          tried++
          expect(r.isError, `${tool.name}.${name} = ${JSON.stringify(value)?.slice(0, 40)}`).toBe(true)
          expect(r.text, `${tool.name}.${name}`).toContain(name)
          toolErrors++
        }
      }
    }
  })

  it("survives right-typed but nasty values and random JSON", async () => {
    const { tools } = await server.client.listTools()
    const random = rng(20261124)
    const anyValue = (depth = 0): unknown => {
      const k = Math.floor(random() * 8)
      if (depth > 2 || k < 2) return random() < 0.5 ? Math.floor(random() * 1e9) - 5e8 : "s".repeat(Math.floor(random() * 50))
      if (k < 3) return null
      if (k < 4) return random() < 0.5
      if (k < 6) return Array.from({ length: Math.floor(random() * 4) }, () => anyValue(depth + 1))
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}`, anyValue(depth + 1)]))
    }
    for (const tool of tools) {
      const schema = tool.inputSchema as InputSchema
      const props = schema.properties ?? {}
      for (const [name, p] of Object.entries(props)) {
        for (const value of nastyValues(name, p)) {
          const args: Record<string, unknown> = { [name]: value }
          // Keep exec-like calls short and harmless: the nasty value is the point, not the command.
          if (name !== "command" && props.command !== undefined) args.command = "true"
          if (name !== "job_id" && props.job_id !== undefined) args.job_id = "job-doesnotexist"
          if (name === "command") args.command = `printf %s ${JSON.stringify(String(value).slice(0, 64))} >/dev/null`
          const r = await call(server, tool.name, args, { timeout: 60_000 })
          tried++
          if (r.isError) toolErrors++
          expect(typeof r.text).toBe("string")
        }
      }
      for (let i = 0; i < 20; i++) {
        const args = Object.fromEntries(Object.keys(props).filter(() => random() < 0.6).map((k) => [k, anyValue()]))
        if ("command" in args) args.command = "true"
        const r = await call(server, tool.name, args, { timeout: 60_000 })
        tried++
        if (r.isError) toolErrors++
      }
    }
    // Random calls may well have disconnected the host (ssh_disconnect {} is valid): connect again.
    const sshd = getSshd()
    const again = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box", replace: true
    })
    expect(again.isError, again.text).toBe(false)
    const alive = await call(server, "ssh_exec", { command: "echo alive", host: "box" })
    expect(alive.isError, alive.text).toBe(false)
    expect(alive.data.stdout).toBe("alive\n")
    expect(server.transportErrors).toEqual([])
    expect(server.stderr()).not.toMatch(/internal error/i)
  })
})
