/**
 * The HTTP endpoint speaks every revision the SDK does: a client pinned to 2026-07-28
 * (per-request envelopes, no session) next to 2025-11-25 and 2025-06-18 sessions, all
 * behind the same bearer token and Host/Origin checks.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, expect, it } from "vitest"
import { type HttpServerProcess, initializeBody, spawnHttp } from "../support/rawHttp.js"
import { describeWithSshd, boxArgs } from "../support/sshd.js"

describeWithSshd("Streamable HTTP: protocol revisions", (getSshd) => {
  let server: HttpServerProcess
  beforeAll(async () => {
    const sshd = getSshd()
    server = await spawnHttp([
      ...boxArgs(sshd)
    ])
  })
  afterAll(async () => {
    await server?.close()
  })

  const connect = async (mode: { pin: string } | "legacy" | "auto", token = server.token) => {
    const client = new Client({ name: "revisions", version: "0" }, { versionNegotiation: { mode } })
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } }
    }))
    return client
  }

  it("serves a client pinned to 2026-07-28: tools, ssh_list_hosts, ssh_exec", async () => {
    const client = await connect({ pin: "2026-07-28" })
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28")
      const tools = await client.listTools()
      expect(tools.tools.map((t) => t.name)).toContain("ssh_exec")
      const hosts = await client.callTool({ name: "ssh_list_hosts", arguments: {} })
      expect(hosts.isError ?? false).toBe(false)
      expect(JSON.stringify(hosts.structuredContent)).toContain("box")
      const progress: Array<number> = []
      const exec = await client.callTool({ name: "ssh_exec", arguments: { command: "for i in 1 2 3; do echo modern $i; sleep 0.4; done" } }, {
        onprogress: (p) => progress.push(p.progress)
      })
      expect(exec.isError ?? false).toBe(false)
      expect((exec.structuredContent as { stdout: string }).stdout).toBe("modern 1\nmodern 2\nmodern 3\n")
      expect(progress.length).toBeGreaterThan(0)
    } finally {
      await client.close()
    }
  })

  it("still serves 2025-11-25 clients with sessions, and auto negotiation", async () => {
    const legacy = await connect("legacy")
    const auto = await connect("auto")
    try {
      expect(legacy.getNegotiatedProtocolVersion()).toBe("2025-11-25")
      expect(auto.getNegotiatedProtocolVersion()).toBe("2026-07-28")
      const r = await legacy.callTool({ name: "ssh_exec", arguments: { command: "echo old" } })
      expect((r.structuredContent as { stdout: string }).stdout).toBe("old\n")
    } finally {
      await legacy.close()
      await auto.close()
    }
  })

  it("answers a 2025-06-18 initialize", async () => {
    const r = await fetch(server.url, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
      body: JSON.stringify(initializeBody("2025-06-18"))
    })
    expect(r.status).toBe(200)
    expect(await r.text()).toContain("\"protocolVersion\":\"2025-06-18\"")
  })

  it("keeps the bearer token and the Origin check on 2026-07-28 requests", async () => {
    await expect(connect({ pin: "2026-07-28" }, "wrong-token")).rejects.toThrow()
    const discover = {
      jsonrpc: "2.0", id: 1, method: "server/discover",
      params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } }
    }
    const post = (headers: Record<string, string>) => fetch(server.url, {
      method: "POST",
      headers: { accept: "application/json, text/event-stream", "content-type": "application/json", "mcp-protocol-version": "2026-07-28", ...headers },
      body: JSON.stringify(discover)
    })
    expect((await post({})).status).toBe(401)
    expect((await post({ authorization: `Bearer ${server.token}`, origin: "http://evil.example" })).status).toBe(403)
  })
})
