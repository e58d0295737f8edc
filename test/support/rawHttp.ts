/**
 * Raw HTTP against the built server (`dist/main.js --http`): no MCP client in between,
 * so tests can send malformed requests, measure the process, and read SSE frame by frame.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { MAIN } from "./main.ts"

export interface HttpServerProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly host: string
  readonly port: number
  readonly token: string
  stderr(): string
  alive(): boolean
  /** Resident memory of the server process, in bytes (VmRSS). */
  rss(): number
  close(): Promise<void>
}

/** Start `dist/main.js --http --port 0 …args` and wait for its "listening on" line. */
export const spawnHttp = async (
  args: ReadonlyArray<string> = [],
  options: { readonly token?: string; readonly env?: Record<string, string>; readonly home?: string } = {}
): Promise<HttpServerProcess> => {
  const token = options.token ?? randomBytes(16).toString("hex")
  const home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
  const child = spawn(process.execPath, [MAIN, "--http", "--port", "0", ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: "root", MCP_SSH_LIVE_TOKEN: token, ...options.env },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(stderr)
      if (m !== null) resolve(m[1]!)
    })
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)))
  })
  const parsed = new URL(url)
  return {
    child,
    url,
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: Number(parsed.port),
    token,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))
      return Number(m![1]) * 1024
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      await exited
    }
  }
}

/** Run the binary to completion (for start-up errors): exit code and stderr, within `timeoutMs`. */
export const runToExit = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 10_000) =>
  new Promise<{ code: number | null; stderr: string; child: ChildProcess }>((resolve, reject) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: "root", ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`still running after ${timeoutMs} ms: ${stderr}`))
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, child })
    })
  })

/** Send `text` as is on a fresh TCP connection; resolves to everything received until the peer closes (or `timeoutMs`). */
export const rawExchange = (host: string, port: number, text: string, timeoutMs = 5_000) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host, port })
    let got = ""
    const done = () => {
      socket.destroy()
      resolve(got)
    }
    const timer = setTimeout(done, timeoutMs)
    socket.on("data", (d) => {
      got += d.toString("latin1")
      // One response is enough: stop once headers and a complete body are in.
      const head = got.indexOf("\r\n\r\n")
      if (head !== -1) {
        const length = /content-length: (\d+)/i.exec(got.slice(0, head))
        if (length !== null && got.length >= head + 4 + Number(length[1])) {
          clearTimeout(timer)
          done()
        }
      }
    })
    socket.on("error", () => undefined)
    socket.on("close", () => {
      clearTimeout(timer)
      resolve(got)
    })
    socket.write(text, "latin1")
  })

/** The status code of a raw HTTP response, or undefined when none came. */
export const statusOf = (response: string): number | undefined => {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response)
  return m === null ? undefined : Number(m[1])
}

export const initializeBody = (protocolVersion = "2025-11-25", id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "0" } }
})

export interface SseEvent {
  readonly id?: string
  readonly retry?: number
  readonly data: string
}

/** An HTTP request whose response is read as SSE, event by event; `abort()` drops the connection. */
export const sseRequest = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  onEvent: (e: SseEvent) => void
) => {
  let request: http.ClientRequest | undefined
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; ended: Promise<void> }>((resolve, reject) => {
    request = http.request(url, { method: init.method, headers: init.headers }, (res) => {
      let buffer = ""
      const ended = new Promise<void>((done) => {
        res.on("end", () => done())
        res.on("close", () => done())
        res.on("error", () => done())
      })
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buffer += chunk
        for (;;) {
          const end = buffer.indexOf("\n\n")
          if (end === -1) break
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event: { id?: string; retry?: number; data: string } = { data: "" }
          const data: Array<string> = []
          let fields = 0
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) continue
            const colon = line.indexOf(":")
            const name = colon === -1 ? line : line.slice(0, colon)
            const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
            fields++
            if (name === "id") event.id = value
            else if (name === "retry") event.retry = Number(value)
            else if (name === "data") data.push(value)
          }
          if (fields === 0) continue
          event.data = data.join("\n")
          onEvent(event)
        }
      })
      resolve({ status: res.statusCode ?? 0, headers: res.headers, ended })
    })
    request.on("error", (e) => reject(e))
    if (init.body !== undefined) request.write(init.body)
    request.end()
  })
  return { response, abort: () => request?.destroy() }
}
