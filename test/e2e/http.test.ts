/** The Streamable HTTP transport's own guards, and several sessions sharing one server. */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, boxArgs } from "../support/sshd.js"

const initialize = {
  jsonrpc: "2.0", id: 1, method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
}

describeWithSshd("Streamable HTTP", (getSshd) => {
  let server: McpServerProcess
  beforeAll(async () => {
    const sshd = getSshd()
    server = await startMcpServer({
      transport: "http",
      args: boxArgs(sshd)
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  const post = (headers: Record<string, string>) =>
    fetch(server.http!.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(initialize)
    })

  it("refuses a missing or wrong bearer token with 401", async () => {
    expect((await post({})).status).toBe(401)
    const wrong = await post({ authorization: "Bearer not-the-token" })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("www-authenticate")).toMatch(/Bearer/)
    expect((await post({ authorization: `Bearer ${server.http!.token}` })).status).toBe(200)
  })

  it("refuses a foreign Origin with 403 (DNS rebinding)", async () => {
    const r = await post({ authorization: `Bearer ${server.http!.token}`, origin: "http://evil.example" })
    expect(r.status).toBe(403)
    const ok = await post({ authorization: `Bearer ${server.http!.token}`, origin: "http://localhost" })
    expect(ok.status).toBe(200)
  })

  it("serves several sessions at once over the same services", async () => {
    const other = new Client({ name: "second", version: "0" })
    await other.connect(new StreamableHTTPClientTransport(new URL(server.http!.url), {
      requestInit: { headers: { Authorization: `Bearer ${server.http!.token}` } }
    }))
    try {
      const spawned = await call(server, "ssh_spawn", { command: "sleep 2", label: "shared" })
      const seen = await other.callTool({ name: "ssh_list_jobs", arguments: {} })
      const jobs = (seen.structuredContent as { jobs: Array<{ job_id: string }> }).jobs
      expect(jobs.map((j) => j.job_id)).toContain(spawned.data.job_id)
      const both = await Promise.all([
        call(server, "ssh_exec", { command: "echo one" }),
        other.callTool({ name: "ssh_exec", arguments: { command: "echo two" } })
      ])
      expect(both[0].data.stdout).toBe("one\n")
      expect((both[1].structuredContent as { stdout: string }).stdout).toBe("two\n")
    } finally {
      await other.close()
    }
  })
})
