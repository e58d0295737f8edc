/**
 * Resumable streams over Streamable HTTP: an `ssh_exec` sends progress on the POST's SSE
 * stream; the client drops that stream mid-exec and comes back with `Last-Event-ID`. Every
 * event (progress and the final result) must arrive exactly once across both connections.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { type HttpServerProcess, initializeBody, type SseEvent, spawnHttp, sseRequest } from "../support/rawHttp.js"
import { describeWithSshd, boxArgs } from "../support/sshd.js"

describeWithSshd("Streamable HTTP: resuming a dropped stream", (getSshd) => {
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

  const headers = (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${server.token}`,
    accept: "application/json, text/event-stream",
    "content-type": "application/json",
    ...extra
  })

  it("loses no progress notification and delivers the result once", async () => {
    const init = await fetch(server.url, { method: "POST", headers: headers(), body: JSON.stringify(initializeBody()) })
    expect(init.status).toBe(200)
    await init.text()
    const session = init.headers.get("mcp-session-id")!
    const inSession = headers({ "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" })
    const ack = await fetch(server.url, { method: "POST", headers: inSession, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })
    expect(ack.status).toBe(202)

    const first: Array<SseEvent> = []
    let sawProgress!: () => void
    const progressed = new Promise<void>((resolve) => {
      sawProgress = resolve
    })
    const call = sseRequest(server.url, {
      method: "POST",
      headers: inSession,
      body: JSON.stringify({
        jsonrpc: "2.0", id: 42, method: "tools/call",
        params: {
          name: "ssh_exec",
          arguments: { command: "for i in $(seq 1 12); do echo step $i; sleep 0.4; done" },
          _meta: { progressToken: "exec-1" }
        }
      })
    }, (e) => {
      first.push(e)
      if (e.data.includes("notifications/progress")) sawProgress()
    })
    const response = await call.response
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toMatch(/text\/event-stream/)
    await progressed
    call.abort()
    const lastSeen = first.filter((e) => e.id !== undefined).at(-1)!.id!

    // The first event primes the stream: an id and a retry hint.
    expect(first[0]!.id).toBeTruthy()
    expect(first[0]!.retry).toBeGreaterThan(0)

    // Progress goes on while we are away.
    await new Promise((r) => setTimeout(r, 1_500))

    const second: Array<SseEvent> = []
    const resumed = sseRequest(server.url, {
      method: "GET",
      headers: { ...inSession, accept: "text/event-stream", "last-event-id": lastSeen }
    }, (e) => second.push(e))
    const again = await resumed.response
    expect(again.status).toBe(200)
    await again.ended

    const all = [...first, ...second].filter((e) => e.data !== "")
    const ids = all.map((e) => e.id)
    expect(new Set(ids).size, JSON.stringify(ids)).toBe(ids.length)
    // Event ids are `<stream>_<n>`: consecutive from the priming event to the result, so none was lost.
    const numbers = [...first, ...second].map((e) => Number(/_(\d+)$/.exec(e.id ?? "")?.[1]))
    for (let i = 1; i < numbers.length; i++) expect(numbers[i], JSON.stringify(numbers)).toBe(numbers[i - 1]! + 1)

    const messages = all.map((e) => JSON.parse(e.data) as { id?: number; method?: string; params?: { progress: number }; result?: { structuredContent?: { exit_status: number; stdout: string } } })
    const progress = messages.filter((m) => m.method === "notifications/progress").map((m) => m.params!.progress)
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!)
    expect(second.some((e) => e.data.includes("notifications/progress")), "progress sent while away is replayed").toBe(true)
    const results = messages.filter((m) => m.id === 42)
    expect(results).toHaveLength(1)
    expect(results[0]!.result?.structuredContent?.exit_status).toBe(0)
    expect(results[0]!.result?.structuredContent?.stdout.split("\n").filter(Boolean)).toHaveLength(12)
  })
})
