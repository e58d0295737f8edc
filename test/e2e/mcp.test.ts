/** MCP depth: annotations, cancellation, logging. */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, waitNoProcess, boxArgs } from "../support/sshd.js"

for (const m of CLIENT_MATRIX) describeWithSshd(`MCP depth (${m.name})`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: boxArgs(sshd)
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("annotates every tool for clients that gate on them", async () => {
    const { tools } = await server.client.listTools()
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    for (const name of ["ssh_list_hosts", "ssh_list_jobs", "ssh_tail"]) expect(byName[name]!.annotations?.readOnlyHint, name).toBe(true)
    for (const name of ["ssh_signal", "ssh_remove_job", "ssh_disconnect", "ssh_exec", "ssh_spawn"]) {
      expect(byName[name]!.annotations?.destructiveHint, name).toBe(true)
    }
    for (const t of tools) {
      expect(t.title ?? t.annotations?.title, t.name).toBeTruthy()
      expect(typeof t.annotations?.openWorldHint, t.name).toBe("boolean")
    }
  })

  it("cancelling an exec stops the remote process group", async () => {
    const t = 500_000 + Math.floor(Math.random() * 99_999)
    const controller = new AbortController()
    const pending = call(server, "ssh_exec", { command: `sleep ${t} | cat` }, { signal: controller.signal }).catch((e: Error) => e)
    await new Promise((r) => setTimeout(r, 1000))
    expect((await sshd.exec(`pgrep -f "sleep ${t}"`)).stdout.trim()).not.toBe("")
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    // The server goes on serving.
    const r = await call(server, "ssh_exec", { command: "echo ok" })
    expect(r.data.stdout).toBe("ok\n")
  })

  it("cancelling a waiting tail frees the server at once", async () => {
    const s = await call(server, "ssh_spawn", { command: "sleep 30" })
    const controller = new AbortController()
    const pending = call(server, "ssh_tail", { job_id: s.data.job_id, wait_ms: 60_000 }, { signal: controller.signal }).catch((e: Error) => e)
    await new Promise((r) => setTimeout(r, 300))
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    const started = Date.now()
    const list = await call(server, "ssh_list_jobs", {})
    expect(list.isError).toBe(false)
    expect(Date.now() - started).toBeLessThan(2000)
    await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
  })
})

describeWithSshd("MCP logging", (getSshd) => {
  it("sends server events as log notifications, filtered by logging/setLevel", async () => {
    const sshd = getSshd()
    const knownHosts = `${sshd.dir}/known_hosts.logging`
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--allow-agent-insecure-auto-add"] })
    const received: Array<{ level: string; data: unknown }> = []
    server.client.setNotificationHandler("notifications/message", (n) => {
      received.push(n.params as { level: string; data: unknown })
    })
    try {
      await server.client.setLoggingLevel("warning")
      const c = await call(server, "ssh_connect", {
        host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, insecure_auto_add: true
      })
      expect(c.isError, c.text).toBe(false)
      const s = await call(server, "ssh_spawn", { command: "true" })
      await call(server, "ssh_tail", { job_id: s.data.job_id, wait_ms: 3000 })
      await new Promise((r) => setTimeout(r, 200))
      expect(received.some((m) => m.level === "warning" && String(m.data).includes("accepted and recorded unknown host key"))).toBe(true)
      expect(received.filter((m) => m.level === "info" || m.level === "debug")).toEqual([])

      await server.client.setLoggingLevel("info")
      const s2 = await call(server, "ssh_spawn", { command: "true" })
      await call(server, "ssh_tail", { job_id: s2.data.job_id, wait_ms: 3000 })
      await new Promise((r) => setTimeout(r, 200))
      expect(received.some((m) => m.level === "info" && String(m.data).includes(`job ${s2.data.job_id as string}`) && String(m.data).includes("ended"))).toBe(true)
      // stderr gets everything regardless.
      expect(server.stderr()).toContain(`job ${s.data.job_id as string} on`)
    } finally {
      await server.close()
    }
  })
})

describeWithSshd("MCP logging in 2026-07-28", (getSshd) => {
  it("sends no log notifications to a 2026-07-28 session (deprecated there); stderr has the events", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({ client: "modern", args: ["--known-hosts", `${sshd.dir}/known_hosts.logging-modern`, "--allow-agent-insecure-auto-add"] })
    const received: Array<unknown> = []
    server.client.setNotificationHandler("notifications/message", (n) => {
      received.push(n.params)
    })
    try {
      const c = await call(server, "ssh_connect", {
        host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, insecure_auto_add: true
      })
      expect(c.isError, c.text).toBe(false)
      await new Promise((r) => setTimeout(r, 300))
      expect(server.stderr()).toContain("accepted and recorded unknown host key")
      expect(received).toEqual([])
    } finally {
      await server.close()
    }
  })
})

describeWithSshd("job output as resources", (getSshd) => {
  it("lists, reads and notifies subscribers of new lines", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({
      args: boxArgs(sshd)
    })
    try {
      const updates: Array<string> = []
      server.client.setNotificationHandler("notifications/resources/updated", (n) => {
        updates.push((n.params as { uri: string }).uri)
      })
      const { resourceTemplates } = await server.client.listResourceTemplates()
      expect(resourceTemplates.map((t) => t.uriTemplate)).toContain("ssh-job://{job_id}/output")
      const s = await call(server, "ssh_spawn", { command: "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.4; done", label: "ticker" })
      const uri = `ssh-job://${s.data.job_id as string}/output`
      const { resources } = await server.client.listResources()
      expect(resources).toEqual(expect.arrayContaining([expect.objectContaining({ uri, name: "ticker", mimeType: "text/plain" })]))
      await server.client.subscribeResource({ uri })
      await call(server, "ssh_tail", { job_id: s.data.job_id, wait_ms: 10_000, until: "^line 6$" })
      await new Promise((r) => setTimeout(r, 500))
      expect(updates.filter((u) => u === uri).length).toBeGreaterThanOrEqual(3)
      const read = await server.client.readResource({ uri })
      const text = (read.contents[0] as { text: string }).text
      expect(text.trim().split("\n")).toEqual([1, 2, 3, 4, 5, 6].map((i) => `${i} stdout: line ${i}`))
      await server.client.unsubscribeResource({ uri })
    } finally {
      await server.close()
    }
  })
})
