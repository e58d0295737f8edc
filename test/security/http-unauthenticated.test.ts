/**
 * Attacks on the Streamable HTTP transport by clients without the token (issue 23, item 6):
 * bodies read before the token check (500 tokenless connections took the server from 132 MB
 * to 2.1 GB), connections held open without a request, headers that never end, paths other
 * than the endpoint answered 401 (which sends OAuth-capable clients looking for an
 * authorization server).
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type HttpServerProcess, initializeBody, rawExchange, spawnHttp, statusOf } from "../support/rawHttp.js"

const MiB = 1024 * 1024

/** POST an initialize with the token on a fresh connection: its status. */
const authorizedInitialize = (server: HttpServerProcess) =>
  new Promise<number>((resolve, reject) => {
    const text = JSON.stringify(initializeBody())
    const req = http.request(server.url, {
      method: "POST",
      agent: false,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${server.token}`,
        "content-length": String(Buffer.byteLength(text))
      }
    }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("error", reject)
    req.end(text)
  })

/** A TCP connection to the server that reports when the server closed it. */
const connect = (server: HttpServerProcess) =>
  new Promise<{ socket: net.Socket; closed: Promise<void>; received: () => string }>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port })
    let got = ""
    socket.on("data", (d: Buffer) => {
      got += d.toString("latin1")
    })
    socket.on("error", () => undefined)
    const closed = new Promise<void>((done) => socket.once("close", () => done()))
    socket.once("connect", () => resolve({ socket, closed, received: () => got }))
    socket.once("error", reject)
  })

/** Whether `p` settles within `ms`. */
const settlesWithin = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))])

describe("HTTP: a client without the token costs no memory", () => {
  let server: HttpServerProcess
  beforeAll(async () => {
    server = await spawnHttp()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("reads no body before the token is checked: 100 tokenless 4 MiB bodies sent slowly", async () => {
    expect(await authorizedInitialize(server)).toBe(200) // warm up
    const before = server.rss()
    const n = 100
    const chunk = Buffer.alloc(256 * 1024, 0x20)
    const conns = await Promise.all(Array.from({ length: n }, () => connect(server)))
    // Each sends its headers (no token), then all but the last byte of a 4 MiB body, in steps.
    const sent = conns.map(async ({ socket, closed }) => {
      socket.write(
        `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\n` +
          `accept: application/json, text/event-stream\r\ncontent-length: ${4 * MiB}\r\n\r\n`
      )
      for (let sentBytes = 0; sentBytes < 4 * MiB - chunk.length; sentBytes += chunk.length) {
        if (socket.destroyed) return
        const flushed = new Promise<void>((r) => socket.write(chunk, () => r()))
        // The server may read it (and keep it) or close the connection.
        await Promise.race([flushed, closed])
        await new Promise((r) => setTimeout(r, 5))
      }
    })
    await Promise.all(sent)
    // What the kernel still buffers reaches the server meanwhile.
    await new Promise((r) => setTimeout(r, 1_000))
    const during = server.rss()
    // The server still serves a client with the token while they hang on.
    expect(await authorizedInitialize(server)).toBe(200)
    for (const { socket } of conns) socket.destroy()
    expect(during - before, `RSS ${before} → ${during}`).toBeLessThan(64 * MiB)
    expect(server.alive(), server.stderr()).toBe(true)
  }, 120_000)

  it("answers a tokenless request with 401 without waiting for its body", async () => {
    const { socket, closed, received } = await connect(server)
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`
    )
    // The body never comes: the answer must not wait for it, and the connection is closed.
    expect(await settlesWithin(closed, 5_000)).toBe(true)
    expect(statusOf(received())).toBe(401)
  })

  it("answers other paths 404, with the token or without, so no client goes looking for OAuth", async () => {
    for (const target of ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp", "/", "/mcp/x"]) {
      for (const auth of [[], [`authorization: Bearer ${server.token}`]]) {
        const response = await rawExchange(
          "127.0.0.1",
          server.port,
          [`GET ${target} HTTP/1.1`, `host: 127.0.0.1:${server.port}`, ...auth, "connection: close", "", ""].join("\r\n")
        )
        expect(statusOf(response), `${target} ${auth.length > 0 ? "with" : "without"} token: ${response.slice(0, 200)}`).toBe(404)
        expect(response.toLowerCase()).not.toContain("www-authenticate")
      }
    }
    // The endpoint itself still asks for the token.
    const mcp = await rawExchange("127.0.0.1", server.port, `GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\nconnection: close\r\n\r\n`)
    expect(statusOf(mcp)).toBe(401)
  })
})

describe("HTTP: connections are capped and time out", () => {
  let server: HttpServerProcess
  beforeAll(async () => {
    server = await spawnHttp(["--http-max-connections", "300"])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("closes the oldest connections that have sent no request past the cap, and still serves a client", async () => {
    const idle = []
    for (let i = 0; i < 200; i++) idle.push(await connect(server))
    expect(await authorizedInitialize(server)).toBe(200)
    // Let the server see every connection and close what it closes.
    await new Promise((r) => setTimeout(r, 500))
    const open = idle.filter(({ socket }) => !socket.destroyed && socket.readyState === "open")
    for (const { socket } of idle) socket.destroy()
    expect(open.length).toBeLessThanOrEqual(64)
    // The newest were kept.
    expect(idle.at(-1)!.socket.destroyed || open.includes(idle.at(-1)!)).toBe(true)
  })

  it("closes a connection whose headers never end", async () => {
    const { socket, closed } = await connect(server)
    socket.write(`POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\nx-slow: `)
    const dribble = setInterval(() => {
      if (!socket.destroyed) socket.write("a")
    }, 500)
    try {
      expect(await settlesWithin(closed, 20_000)).toBe(true)
    } finally {
      clearInterval(dribble)
      socket.destroy()
    }
  }, 30_000)

  it("accepts at most --http-max-connections connections", async () => {
    const capped = await spawnHttp(["--http-max-connections", "4"])
    try {
      // Four clients with the token, each holding its connection open in the middle of a request.
      const held = await Promise.all(Array.from({ length: 4 }, () => connect(capped)))
      const body = JSON.stringify(initializeBody())
      for (const { socket } of held) {
        socket.write(
          `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${capped.port}\r\nauthorization: Bearer ${capped.token}\r\n` +
            `content-type: application/json\r\naccept: application/json, text/event-stream\r\nconnection: close\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n\r\n`
        )
      }
      await new Promise((r) => setTimeout(r, 300))
      const fifth = await connect(capped)
      expect(await settlesWithin(fifth.closed, 5_000)).toBe(true)
      expect(fifth.received()).toBe("")
      // One finishes its request; its slot is free again.
      held[0]!.socket.write(body)
      await held[0]!.closed
      expect(statusOf(held[0]!.received())).toBe(200)
      expect(await authorizedInitialize(capped)).toBe(200)
      for (const { socket } of held) socket.destroy()
    } finally {
      await capped.close()
    }
  })
})
