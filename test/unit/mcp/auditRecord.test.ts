import { Redacted, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { auditRecord, type CallFacts, invalidFields, invalidInputRecord, maskCommand, outcomeOf, REDACTED, redactFields } from "../../../src/mcp/auditRecord.js"
import { tools } from "../../../src/mcp/tools/index.js"

const ok = (structuredContent: Record<string, unknown>) => ({ content: [{ type: "text", text: "{}" }], structuredContent })
const error = (text: string) => ({ isError: true, content: [{ type: "text", text }] })
const facts = (over: Partial<CallFacts>): CallFacts => ({
  time: new Date("2026-01-02T03:04:05.678Z"),
  session: "s1",
  tool: "ssh_exec",
  args: {},
  result: ok({}),
  durationMs: 12,
  ...over
})

describe("audit record", () => {
  it("records an exec: host from the result, command, env names only, stdin size, exit status", () => {
    const r = auditRecord(facts({
      args: { command: "make test", env: { API_TOKEN: "tok-123", MODE: "ci" }, stdin: "héllo", sudo: true, timeout_ms: 5000 },
      defaultHost: "box",
      result: ok({ host: "box", exit_status: 2, signal: null, stdout: "STDOUT-TEXT", stderr: "" })
    }))
    expect(r).toEqual({
      time: "2026-01-02T03:04:05.678Z",
      session: "s1",
      tool: "ssh_exec",
      host: "box",
      command: "make test",
      args: { env: { API_TOKEN: REDACTED, MODE: REDACTED }, stdin_bytes: 6, sudo: true, timeout_ms: 5000 },
      outcome: "ok",
      exit_status: 2,
      duration_ms: 12
    })
    expect(JSON.stringify(r)).not.toContain("STDOUT-TEXT")
  })

  it("names the default host when the call named none, and null when there is none", () => {
    expect(auditRecord(facts({ args: { command: "x" }, defaultHost: "web1", result: error("HOST_NOT_FOUND: no") })).host).toBe("web1")
    expect(auditRecord(facts({ args: { command: "x" }, defaultHost: null, result: error("HOST_NOT_FOUND: no") })).host).toBeNull()
    expect(auditRecord(facts({ tool: "ssh_tail", args: { job_id: "j1" } }))).not.toHaveProperty("host")
  })

  it("hides ssh_connect's password and passphrase, Redacted or plain, and keeps the rest", () => {
    const r = auditRecord(facts({
      tool: "ssh_connect",
      args: { host: "10.0.0.5", user: "ops", password: Redacted.make("pw-1"), passphrase: "pp-2", key_path: "/k", alias: "db" },
      result: ok({ alias: "db", address: "10.0.0.5", port: 22 })
    }))
    expect(r).toMatchObject({ host: "db", args: { user: "ops", password: REDACTED, passphrase: REDACTED, key_path: "/k", alias: "db" } })
    expect(JSON.stringify(r)).not.toMatch(/pw-1|pp-2/)
  })

  it("logs ssh_send_stdin data as a byte count, secret or not", () => {
    for (const secret of [true, false, undefined]) {
      const r = auditRecord(facts({ tool: "ssh_send_stdin", args: { job_id: "j9", data: "hunter2\n", secret } }))
      expect(r).toMatchObject({ job_id: "j9", args: { data_bytes: 8 } })
      expect(JSON.stringify(r)).not.toContain("hunter2")
    }
  })

  it("records transfers by their paths and bytes", () => {
    const r = auditRecord(facts({
      tool: "ssh_upload",
      args: { local_path: "/tmp/a", remote_path: "a", host: "box" },
      result: ok({ host: "box", bytes: 5, files: [] })
    }))
    expect(r).toMatchObject({ host: "box", paths: { local: "/tmp/a", remote: "a" }, result: { bytes: 5 } })
    expect(r).not.toHaveProperty("args")
  })

  it("covers fleet tools by their argument names: hosts, group, tunnels", () => {
    const many = auditRecord(facts({
      tool: "ssh_exec_many",
      args: { group: "web", command: "uptime", env: { PGPASSWORD: "x1" }, concurrency: 4 },
      result: ok({ results: [{ host: "web1", exit_status: 0 }, { host: "web2", exit_status: null, error: "CONNECT_FAILED: down" }], ok: 1, failed: 1 })
    }))
    expect(many).toMatchObject({
      hosts: ["web1", "web2"], group: "web", command: "uptime", args: { env: { PGPASSWORD: REDACTED }, concurrency: 4 },
      result: { ok: 1, failed: 1, results: [{ host: "web1", exit_status: 0 }, { host: "web2", exit_status: null, error: "CONNECT_FAILED: down" }] }
    })
    expect(many).not.toHaveProperty("host")
    const tunnel = auditRecord(facts({
      tool: "ssh_tunnel_open",
      args: { host: "db", kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: 5432 },
      result: ok({ tunnel_id: "t1", host: "db", kind: "local", bind_address: "127.0.0.1", bind_port: 40123 })
    }))
    expect(tunnel).toMatchObject({
      host: "db", tunnel_id: "t1", args: { kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: 5432 },
      result: { bind_address: "127.0.0.1", bind_port: 40123 }
    })
  })

  it("hides any credential-named field of a future tool, nested too, but keeps booleans", () => {
    const r = redactFields({
      sudo_password: "a1", private_key: "a2", api_key: "a3", auth: { token: "a4", user: "u" }, secret: true,
      nested: [{ client_secret: "a5" }], credentials: ["a6"]
    })
    expect(JSON.stringify(r)).not.toMatch(/a[1-6]/)
    expect(r).toMatchObject({ secret: true, auth: REDACTED, nested: [{ client_secret: REDACTED }] })
  })

  it("masks the values of secret-looking assignments in a command, and only those", () => {
    expect(maskCommand("DB_PASSWORD=s3cr3t ./migrate")).toBe(`DB_PASSWORD=${REDACTED} ./migrate`)
    expect(maskCommand("export GITHUB_TOKEN='ghp_x y'; gh auth status")).toBe(`export GITHUB_TOKEN=${REDACTED}; gh auth status`)
    expect(maskCommand(`curl --api-key="k 1" --token=abc https://h/`)).toBe(`curl --api-key=${REDACTED} --token=${REDACTED} https://h/`)
    expect(maskCommand("MYSQL_PWD=x mysql -e 'select 1'")).toBe(`MYSQL_PWD=${REDACTED} mysql -e 'select 1'`)
    expect(maskCommand("ls -la /etc && echo PATH=$PATH")).toBe("ls -la /etc && echo PATH=$PATH")
    // A courtesy, not a guarantee: a password passed as its own word is logged as given.
    expect(maskCommand("mysql -pSECRET")).toBe("mysql -pSECRET")
  })

  it("derives the outcome from the result", () => {
    expect(outcomeOf(ok({}))).toBe("ok")
    expect(outcomeOf(error("AUTH_FAILED: wrong (hint: x)"))).toBe("AUTH_FAILED")
    expect(outcomeOf(error("CANCELLED: ssh_exec was cancelled"))).toBe("cancelled")
    expect(outcomeOf(error("something else"))).toBe("ERROR")
    expect(outcomeOf({ resultType: "input_required" })).toBe("input_required")
    expect(auditRecord(facts({ result: error("TIMEOUT: slow") }))).not.toHaveProperty("exit_status")
  })

  // Every argument of every tool has been looked at for secrets: a new field must be added to
  // one of these lists (and, when it can hold a secret, be caught by the redaction above).
  const PUBLIC = new Set([
    "host", "hosts", "group", "groups", "port", "user", "key_path", "alias", "insecure_auto_add", "replace", "command", "timeout_ms",
    "background_after_ms", "idle_timeout_ms", "sudo", "cwd", "pty", "label", "persistent", "job_id", "since_line_no",
    "wait_ms", "max_lines", "max_bytes", "min_lines", "stream", "until", "signal", "eof", "secret", "status", "force",
    "local_path", "remote_path", "mkdirs", "overwrite", "mode", "kind", "bind_address", "bind_port", "target_host",
    "target_port", "tunnel_id", "concurrency", "cursor", "last", "format", "detail", "max_output_bytes", "tmux", "record", "keys",
    "since_version", "target"
  ])
  const SECRET = new Set(["password", "passphrase"])
  const VALUES_HIDDEN = new Set(["env", "stdin", "data"])
  it("knows every argument of every tool", () => {
    for (const tool of tools) {
      const properties = tool.use((t) =>
        Schema.toStandardJSONSchemaV1(Schema.toStandardSchemaV1(t.input))["~standard"].jsonSchema.input({ target: "draft-2020-12" }).properties ?? {}
      ) as Record<string, unknown>
      for (const name of Object.keys(properties)) {
        expect(PUBLIC.has(name) || SECRET.has(name) || VALUES_HIDDEN.has(name), `${tool.name}.${name} is not classified`).toBe(true)
        const type = (properties[name] as { type?: unknown }).type
        if (type === "boolean" || type === "integer" || type === "number") continue // carry no secret text
        const value = "v-" + name
        const record = JSON.stringify(auditRecord(facts({ tool: tool.name, args: { [name]: name === "env" ? { N: value } : type === "array" ? [value] : value } })))
        expect(record.includes(value), `${tool.name}.${name}`).toBe(PUBLIC.has(name))
      }
    }
  })
})

describe("the record of a call refused by input validation", () => {
  it("names each top-level field once, bounded, and holds no value", () => {
    expect(invalidFields([["port"], ["env", "A"], ["env", "B"], [{ key: "pasword" }], [], undefined])).toEqual(["port", "env", "pasword"])
    expect(invalidFields(Array.from({ length: 40 }, (_, i) => [`f${i}`]))).toHaveLength(16)
    expect(invalidFields([["k".repeat(500)]])[0]).toHaveLength(64)
    const record = invalidInputRecord({ time: new Date("2026-01-02T03:04:05.678Z"), session: null, tool: "ssh_connect", fields: ["port"], durationMs: 0 })
    expect(record).toEqual({ time: "2026-01-02T03:04:05.678Z", session: null, tool: "ssh_connect", outcome: "INVALID_ARGUMENT", fields: ["port"], duration_ms: 0 })
  })
})
