/**
 * Calls refused by input validation (issue 23, item 12): the SDK validated arguments before
 * our handler ran, so an agent could send any number of malformed calls, secrets in them
 * or probes, and the audit log kept no trace. Each is recorded now: tool, outcome
 * INVALID_ARGUMENT and the fields named, never a value. What the agent reads is unchanged.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { call, CLIENT_MATRIX, startMcpServer } from "../support/mcp.js"

const CELLS = CLIENT_MATRIX.filter((m) => m.name === "stdio/v2" || m.name === "http/v1" || m.name === "stdio/modern")

for (const m of CELLS) describe(`audit of calls refused by input validation (${m.name})`, () => {
  it("records tool, INVALID_ARGUMENT and the fields, with no value, and answers as before", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-audit-invalid-"))
    const audit = path.join(dir, "audit.jsonl")
    const secret = `s3cret-${Math.random().toString(36).slice(2)}`
    const server = await startMcpServer({ transport: m.transport, client: m.client, args: ["--audit-log", audit] })
    try {
      const wrongType = await call(server, "ssh_exec", { command: 42 })
      expect(wrongType.isError).toBe(true)
      expect(wrongType.text).toMatch(/^Input validation error: Invalid arguments for tool ssh_exec: command: /)
      // A secret where a number belongs, and another under a misspelt name.
      const withSecrets = await call(server, "ssh_connect", { host: "h", port: secret, pasword: secret, password: 5 })
      expect(withSecrets.isError).toBe(true)
      expect(withSecrets.text).toMatch(/^Input validation error: Invalid arguments for tool ssh_connect: /)
      expect(withSecrets.text).toContain("pasword")
      const missing = await call(server, "ssh_send_stdin", { data: secret })
      expect(missing.isError).toBe(true)
      expect(missing.text).toContain("job_id")
      const ok = await call(server, "ssh_list_jobs", {})
      expect(ok.isError, ok.text).toBe(false)

      const text = fs.readFileSync(audit, "utf8")
      expect(text).not.toContain(secret)
      const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines.map((l) => [l.tool, l.outcome])).toEqual([
        ["ssh_exec", "INVALID_ARGUMENT"],
        ["ssh_connect", "INVALID_ARGUMENT"],
        ["ssh_send_stdin", "INVALID_ARGUMENT"],
        ["ssh_list_jobs", "ok"]
      ])
      expect(lines[0]!.fields).toEqual(["command"])
      expect([...(lines[1]!.fields as Array<string>)].sort()).toEqual(["password", "pasword", "port"])
      expect(lines[2]!.fields).toEqual(["job_id"])
      for (const line of lines.slice(0, 3)) {
        expect(Object.keys(line).sort()).toEqual(["duration_ms", "fields", "outcome", "session", "time", "tool"])
      }
    } finally {
      await server.close()
    }
  })
})
