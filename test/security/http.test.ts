/**
 * Attacks on the Streamable HTTP transport (docs/SECURITY.md, "The network, and the HTTP transport"): malformed requests must get a 4xx
 * and never kill the process; requests that are not an initialize allocate nothing;
 * sessions are capped and expire; all of 127.0.0.0/8 and ::1 are loopback; a
 * non-loopback bind needs an explicit flag and a long token.
 */
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type HttpServerProcess,
  initializeBody,
  rawExchange,
  runToExit,
  spawnHttp,
  statusOf
} from "../support/rawHttp.js"

const raw = (lines: ReadonlyArray<string>, body = "") =>
  `${lines.join("\r\n")}\r\n${body === "" ? "" : `content-length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`

/** POST a JSON body; the status, the headers and the body text. */
const post = async (
  server: HttpServerProcess,
  body: unknown,
  headers: Record<string, string> = {},
  agent?: http.Agent
) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = http.request(server.url, {
      method: "POST",
      ...(agent !== undefined ? { agent } : {}),
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${server.token}`,
        "content-length": String(Buffer.byteLength(text)),
        ...headers
      }
    }, (res) => {
      let got = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => {
        got += d
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: got }))
    })
    req.on("error", reject)
    req.end(text)
  })

/** Open a 2025 session (initialize + initialized); its id. */
const openSession = async (server: HttpServerProcess) => {
  const r = await post(server, initializeBody())
  expect(r.status).toBe(200)
  const id = r.headers["mcp-session-id"] as string
  expect(id).toBeTruthy()
  const ack = await post(server, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionHeaders(id))
  expect(ack.status).toBe(202)
  return id
}

const sessionHeaders = (id: string) => ({ "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" })

const ping = (server: HttpServerProcess, id: string) =>
  post(server, { jsonrpc: "2.0", id: 99, method: "ping" }, sessionHeaders(id))

describe("HTTP: malformed requests get a 4xx and never crash the server", () => {
  let server: HttpServerProcess
  beforeAll(async () => {
    server = await spawnHttp()
  })
  afterAll(async () => {
    await server?.close()
  })

  const body = JSON.stringify(initializeBody())
  const auth = () => `authorization: Bearer ${server.token}`
  const cases: ReadonlyArray<[string, () => string]> = [
    ["a Host port out of range", () => raw(["POST /mcp HTTP/1.1", "host: 127.0.0.1:99999", auth(), "content-type: application/json", "accept: application/json, text/event-stream"], body)],
    ["an absolute-form request target", () => raw(["GET http://evil/mcp HTTP/1.1", `host: 127.0.0.1:${server.port}`, auth()])],
    ["an absolute-form target naming our own address", () => raw([`POST http://127.0.0.1:${server.port}/mcp HTTP/1.1`, `host: 127.0.0.1:${server.port}`, auth(), "content-type: application/json", "accept: application/json, text/event-stream"], body)],
    ["an unclosed IPv6 Host", () => raw(["POST /mcp HTTP/1.1", "host: [::1", auth(), "content-type: application/json"], body)],
    ["a Host with a space", () => raw(["GET /mcp HTTP/1.1", "host: a b", auth()])],
    ["a Host with user info", () => raw(["GET /mcp HTTP/1.1", "host: user@127.0.0.1", auth()])],
    ["an asterisk target", () => raw(["OPTIONS * HTTP/1.1", `host: 127.0.0.1:${server.port}`, auth()])],
    ["a target starting with //", () => raw(["GET //evil/mcp HTTP/1.1", `host: 127.0.0.1:${server.port}`, auth()])],
    ["no Host at all", () => raw(["GET /mcp HTTP/1.1", auth()])]
  ]

  for (const [name, request] of cases) {
    it(`answers ${name} with a 4xx`, async () => {
      const response = await rawExchange("127.0.0.1", server.port, request())
      const status = statusOf(response)
      expect(status, response.slice(0, 200)).toBeGreaterThanOrEqual(400)
      expect(status).toBeLessThan(500)
      expect(server.alive(), server.stderr()).toBe(true)
    })
  }

  it("is still alive and serving after all of them", async () => {
    expect(server.alive(), server.stderr()).toBe(true)
    const r = await post(server, initializeBody())
    expect(r.status).toBe(200)
  })
})

describe("HTTP: session-less requests allocate nothing", () => {
  let server: HttpServerProcess
  beforeAll(async () => {
    // V8 grows its heap lazily: garbage alone can add 100 MB of RSS before a full GC. With the
    // heap capped at 64 MB garbage is collected in time, so what stays is what is retained
    // (a leak of a server per request ends in an out-of-memory crash within the warm-up).
    server = await spawnHttp([], { env: { NODE_OPTIONS: "--max-old-space-size=64" } })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("allocates nothing for session-less requests that are not initialize (RSS measured)", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
    const flood = async (n: number) => {
      const statuses = new Map<number, number>()
      let next = 0
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < n) {
          next++
          const r = await post(server, { jsonrpc: "2.0", id: next, method: "tools/list" }, {}, agent)
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        }
      }))
      return statuses
    }
    await flood(500) // warm up: JIT, buffers, heap
    const before = server.rss()
    const statuses = await flood(2500)
    const after = server.rss()
    agent.destroy()
    expect([...statuses.keys()]).toEqual([400])
    expect(after - before, `RSS ${before} → ${after}`).toBeLessThan(50 * 1024 * 1024)
    expect(server.alive()).toBe(true)
  }, 240_000)
})

describe("HTTP: sessions are capped and expire", () => {
  let server: HttpServerProcess
  beforeAll(async () => {
    server = await spawnHttp(["--http-max-sessions", "4"])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("keeps at most --http-max-sessions sessions from clients that never send DELETE", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 10; i++) ids.push(await openSession(server))
    const alive = []
    for (const id of ids) if ((await ping(server, id)).status === 200) alive.push(id)
    expect(alive.length).toBeLessThanOrEqual(4)
    // The newest are kept; the least recently used went first.
    expect(alive).toContain(ids[9])
    expect(server.stderr()).toMatch(/session cap \(4\) reached/)
  })

  it("closes a session idle for longer than --http-session-idle-sec", async () => {
    const idle = await spawnHttp(["--http-session-idle-sec", "1"])
    try {
      const id = await openSession(idle)
      expect((await ping(idle, id)).status).toBe(200)
      await new Promise((r) => setTimeout(r, 4_000))
      expect((await ping(idle, id)).status).toBe(404)
      expect(idle.stderr()).toMatch(/idle for more than 1 s/)
    } finally {
      await idle.close()
    }
  })

  it("closes a session on DELETE", async () => {
    const id = await openSession(server)
    const deleted = await new Promise<number>((resolve, reject) => {
      const req = http.request(server.url, { method: "DELETE", headers: { authorization: `Bearer ${server.token}`, ...sessionHeaders(id) } }, (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      })
      req.on("error", reject)
      req.end()
    })
    expect(deleted).toBe(200)
    expect((await ping(server, id)).status).toBe(404)
  })

  it("still serves a new session afterwards", async () => {
    const id = await openSession(server)
    expect((await ping(server, id)).status).toBe(200)
  })
})

describe("HTTP: loopback is 127.0.0.0/8 and ::1", () => {
  it("accepts any 127.x Host and Origin on the default bind", async () => {
    const server = await spawnHttp()
    try {
      const r = await post(server, initializeBody(), { host: `127.0.0.5:${server.port}`, origin: "http://127.0.0.3:3000" })
      expect(r.status).toBe(200)
      const v6 = await post(server, initializeBody(), { host: `[::1]:${server.port}`, origin: "http://[::1]:3000" })
      expect(v6.status).toBe(200)
      const evil = await post(server, initializeBody(), { host: `127.0.0.1.evil.example:${server.port}` })
      expect(evil.status).toBe(403)
      const evilOrigin = await post(server, initializeBody(), { origin: "http://128.0.0.1" })
      expect(evilOrigin.status).toBe(403)
    } finally {
      await server.close()
    }
  })

  it("serves --bind 127.0.0.2 with the Host and Origin checks on", async () => {
    const server = await spawnHttp(["--bind", "127.0.0.2"])
    try {
      expect(server.host).toBe("127.0.0.2")
      expect((await post(server, initializeBody())).status).toBe(200)
      expect((await post(server, initializeBody(), { host: `evil.example:${server.port}` })).status).toBe(403)
      expect((await post(server, initializeBody(), { origin: "http://evil.example" })).status).toBe(403)
    } finally {
      await server.close()
    }
  })

  it("refuses --bind 0.0.0.0 without --allow-remote-bind (exit 2, one line)", async () => {
    const r = await runToExit(["--http", "--port", "0", "--bind", "0.0.0.0"], { MCP_SSH_LIVE_TOKEN: "x".repeat(40) })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--bind 0\.0\.0\.0: .*--allow-remote-bind/)
    expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("  hint:"))).toHaveLength(1)
  })

  it("refuses --allow-remote-bind with a token shorter than 32 characters, or none", async () => {
    const short = await runToExit(["--http", "--port", "0", "--bind", "0.0.0.0", "--allow-remote-bind"], { MCP_SSH_LIVE_TOKEN: "short-token" })
    expect(short.code).toBe(2)
    expect(short.stderr).toMatch(/MCP_SSH_LIVE_TOKEN.*32/)
    const none = await runToExit(["--http", "--port", "0", "--bind", "0.0.0.0", "--allow-remote-bind"])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/MCP_SSH_LIVE_TOKEN.*32/)
  })

  it("starts with --allow-remote-bind and a long token, and warns that plain HTTP exposes it", async () => {
    const server = await spawnHttp(["--bind", "0.0.0.0", "--allow-remote-bind"], { token: "t".repeat(32) })
    try {
      expect(server.stderr()).toMatch(/warning: .*plain HTTP.*token/i)
      expect(server.stderr()).not.toContain("t".repeat(32))
    } finally {
      await server.close()
    }
  })

  it("refuses --allow-remote-bind and the session flags without --http", async () => {
    for (const flags of [["--allow-remote-bind"], ["--http-max-sessions", "3"], ["--http-session-idle-sec", "5"]]) {
      const r = await runToExit(flags)
      expect(r.code, flags.join(" ")).toBe(2)
    }
  })

  it("documents the session limits in --help", async () => {
    const { spawnSync } = await import("node:child_process")
    const { MAIN } = await import("../support/mcp.js")
    const help = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8" }).stdout
    expect(help).toMatch(/--http-session-idle-sec N[\s\S]*?default: 1800/)
    expect(help).toMatch(/--http-max-sessions N[\s\S]*?default: 64/)
    expect(help).toMatch(/--allow-remote-bind/)
  })
})
