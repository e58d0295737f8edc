/**
 * Port forwarding end to end, against a real sshd in a network namespace of its own: the
 * namespace's 127.0.0.1 is not ours, so a server listening there is reachable from this
 * process only through the host, and ours only from there through a remote forward.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

interface TunnelRow {
  tunnel_id: string
  kind: string
  bind_port: number
  connections: number
  bytes_in: number
  bytes_out: number
  failed_connections: number
  last_error: string | null
}

/** GET http://host:port/ from this process; the body, or the error's code. */
const httpGet = (port: number, host = "127.0.0.1") =>
  new Promise<{ body?: string; error?: string }>((resolve) => {
    const req = http.get({ host, port, path: "/", timeout: 5000, agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (body += d))
      res.on("end", () => resolve({ body }))
      res.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }))
  })

/** Connect and wait for the far end to close; what arrived, or the connect error's code. */
const connectAndRead = (port: number, send = "") =>
  new Promise<{ data: string; error?: string }>((resolve) => {
    let data = ""
    const s = net.connect(port, "127.0.0.1", () => {
      if (send !== "") s.write(send)
    })
    s.setTimeout(10_000, () => s.destroy(new Error("timeout")))
    s.on("data", (d) => (data += d.toString()))
    s.on("error", (e: NodeJS.ErrnoException) => resolve({ data, error: e.code ?? e.message }))
    s.on("close", () => resolve({ data }))
  })

/** A raw SOCKS5 CONNECT by domain name: the reply code (RFC 1928), or undefined when closed first. */
const socksReply = (proxyPort: number, host: string, port: number) =>
  new Promise<number | undefined>((resolve) => {
    const s = net.connect(proxyPort, "127.0.0.1")
    let buf = Buffer.alloc(0)
    s.setTimeout(10_000, () => s.destroy())
    s.on("connect", () => s.write(Uint8Array.of(5, 1, 0)))
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d])
      if (buf.length === 2) {
        const name = Buffer.from(host)
        s.write(Uint8Array.from([5, 1, 0, 3, name.length, ...name, port >> 8, port & 0xff]))
      }
      if (buf.length >= 4) {
        resolve(buf[3])
        s.destroy()
      }
    })
    s.on("error", () => resolve(undefined))
    s.on("close", () => resolve(undefined))
  })

const until = async <T>(what: () => Promise<T>, ok: (t: T) => boolean, ms = 15_000): Promise<T> => {
  const deadline = Date.now() + ms
  for (;;) {
    const t = await what()
    if (ok(t) || Date.now() > deadline) return t
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A port nothing listens on (here or in the namespace). */
const closedPort = 1

const token = () => `tok-${Math.random().toString(36).slice(2)}`

const tunnels = async (server: McpServerProcess) => (await call(server, "ssh_tunnel_list", {})).data.tunnels as Array<TunnelRow>
const row = async (server: McpServerProcess, id: string) => (await tunnels(server)).find((t) => t.tunnel_id === id)

/** An HTTP server in sshd's namespace on its 127.0.0.1, serving `text`; returns its port. */
const serveInside = async (sshd: Sshd, text: string): Promise<{ port: number; stop: () => Promise<unknown> }> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-tun-"))
  fs.chmodSync(dir, 0o755)
  fs.writeFileSync(path.join(dir, "index.html"), text)
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const r = await sshd.execInside(`nohup /usr/bin/python3 -m http.server ${port} --bind 127.0.0.1 --directory ${dir} >/dev/null 2>&1 & echo $!`)
  const pid = r.stdout.trim()
  await until(() => sshd.execInside(`curl -s http://127.0.0.1:${port}/`), (c) => c.stdout === text)
  return { port, stop: () => sshd.execInside(`kill ${pid}`) }
}

for (const m of CLIENT_MATRIX.filter((c) => c.name === "stdio/v2" || c.name === "http/v1")) {
  describeWithSshd(`tunnels (${m.name})`, (getSshd) => {
    let server: McpServerProcess
    let sshd: Sshd
    let inside: { port: number; stop: () => Promise<unknown> }
    const insideText = token()
    const localText = token()
    let local: http.Server
    let localPort: number

    beforeAll(async () => {
      sshd = getSshd()
      inside = await serveInside(sshd, insideText)
      local = http.createServer((_req, res) => res.end(localText))
      await new Promise<void>((r) => local.listen(0, "127.0.0.1", r))
      localPort = (local.address() as net.AddressInfo).port
      server = await startMcpServer({
        transport: m.transport,
        client: m.client,
        args: ["--known-hosts", sshd.knownHostsPath, "--reconnect-delay-sec", "0.2", "--reconnect-retries", "5"]
      })
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
      expect(r.isError, r.text).toBe(false)
    })
    afterAll(async () => {
      await server?.close()
      await inside?.stop()
      local?.close()
    })

    let localId: string
    let localBind: number
    let remoteId: string
    let remoteBind: number
    let socksBind: number

    it("local: a server on the host's loopback, reached only through the tunnel; list counts bytes", async () => {
      // Not reachable from here directly: the namespace's 127.0.0.1 is not ours.
      expect((await httpGet(inside.port)).body).not.toBe(insideText)
      const r = await call(server, "ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: inside.port })
      expect(r.isError, r.text).toBe(false)
      expect(r.data).toMatchObject({ host: "box", kind: "local", bind_address: "127.0.0.1", target_host: "127.0.0.1", target_port: inside.port })
      localId = r.data.tunnel_id as string
      localBind = r.data.bind_port as number
      expect(localBind).toBeGreaterThan(0)
      expect((await httpGet(localBind)).body).toBe(insideText)
      const t = await until(() => row(server, localId), (x) => x?.connections === 0)
      expect(t).toMatchObject({ kind: "local", connections: 0, failed_connections: 0, last_error: null })
      expect(t!.bytes_in).toBeGreaterThan(insideText.length)
      expect(t!.bytes_out).toBeGreaterThan(10)
    })

    it("local: connections open now are counted", async () => {
      const s = net.connect(localBind, "127.0.0.1")
      await new Promise((r) => s.once("connect", r))
      const t = await until(() => row(server, localId), (x) => x?.connections === 1)
      expect(t?.connections).toBe(1)
      s.destroy()
      expect((await until(() => row(server, localId), (x) => x?.connections === 0))?.connections).toBe(0)
    })

    it("remote: the far side reaches a server of ours through the host's port", async () => {
      const r = await call(server, "ssh_tunnel_open", { kind: "remote", bind_port: 0, target_host: "127.0.0.1", target_port: localPort })
      expect(r.isError, r.text).toBe(false)
      remoteId = r.data.tunnel_id as string
      remoteBind = r.data.bind_port as number
      expect(remoteBind).toBeGreaterThan(0)
      // curl inside the namespace: our 127.0.0.1 is not reachable from there but through the forward.
      expect((await sshd.execInside(`curl -s --max-time 5 http://127.0.0.1:${localPort}/`)).stdout).not.toBe(localText)
      const c = await sshd.execInside(`curl -s --max-time 5 http://127.0.0.1:${remoteBind}/`)
      expect(c.stdout).toBe(localText)
      const t = await until(() => row(server, remoteId), (x) => x?.bytes_in !== undefined && x.bytes_in > 0 && x.connections === 0)
      expect(t).toMatchObject({ kind: "remote", connections: 0, failed_connections: 0 })
      expect(t!.bytes_in).toBeGreaterThan(localText.length)
    })

    it("dynamic: SOCKS5 with the name resolved on the far side, and with an IPv4 address", async () => {
      const r = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
      expect(r.isError, r.text).toBe(false)
      expect(r.data).toMatchObject({ kind: "dynamic", target_host: null, target_port: null })
      socksBind = r.data.bind_port as number
      // `localhost` resolves on both sides, but to different machines: only the host's
      // localhost serves insideText (--socks5-hostname sends the name, the host resolves it).
      const byName = await sshd.exec(`curl -s --max-time 5 --socks5-hostname 127.0.0.1:${socksBind} http://localhost:${inside.port}/`)
      expect(byName.stdout).toBe(insideText)
      const byAddress = await sshd.exec(`curl -s --max-time 5 --socks5 127.0.0.1:${socksBind} http://127.0.0.1:${inside.port}/`)
      expect(byAddress.stdout).toBe(insideText)
    })

    it("target unreachable: that connection is closed (SOCKS: connection refused), the tunnel stays", async () => {
      const r = await call(server, "ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "127.0.0.1", target_port: closedPort })
      expect(r.isError, r.text).toBe(false)
      const id = r.data.tunnel_id as string
      const got = await connectAndRead(r.data.bind_port as number, "GET / HTTP/1.0\r\n\r\n")
      expect(got.data).toBe("")
      const t = await until(() => row(server, id), (x) => (x?.failed_connections ?? 0) > 0)
      expect(t?.failed_connections).toBe(1)
      expect(t?.last_error).toMatch(/refused/i)
      expect(await socksReply(socksBind, "localhost", closedPort)).toBe(5)
      // The host's other work goes on.
      const e = await call(server, "ssh_exec", { command: "echo fine" })
      expect(e.data.stdout).toBe("fine\n")
      expect((await httpGet(localBind)).body).toBe(insideText)
      await call(server, "ssh_tunnel_close", { tunnel_id: id })
    })

    it("the connection killed: every tunnel works again on the new connection (remote one re-requested)", async () => {
      const before = server.stderr().match(/connected box: /g)?.length ?? 0
      await sshd.killConnections()
      await until(async () => server.stderr().match(/connected box: /g)?.length ?? 0, (n) => n > before)
      expect((await until(() => httpGet(localBind), (g) => g.body === insideText)).body).toBe(insideText)
      const c = await until(() => sshd.execInside(`curl -s --max-time 5 http://127.0.0.1:${remoteBind}/`), (x) => x.stdout === localText)
      expect(c.stdout).toBe(localText)
      expect((await row(server, remoteId))?.last_error).toBeNull()
      const viaSocks = await sshd.exec(`curl -s --max-time 5 --socks5-hostname 127.0.0.1:${socksBind} http://localhost:${inside.port}/`)
      expect(viaSocks.stdout).toBe(insideText)
    })

    it("a local port in use: PORT_IN_USE", async () => {
      const r = await call(server, "ssh_tunnel_open", { kind: "local", bind_port: localPort, target_host: "127.0.0.1", target_port: 80 })
      expect(r.isError).toBe(true)
      expect(r.data.error).toMatchObject({ code: "PORT_IN_USE" })
      expect(r.text).toContain("bind_port")
    })

    it("a non-loopback bind without the operator's flag is refused naming it", async () => {
      const r = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_address: "0.0.0.0", bind_port: 0 })
      expect(r.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
      expect(r.text).toContain("bind_address")
      expect(r.text).toContain("--allow-tunnel-bind-any")
    })

    it("fields are checked by kind", async () => {
      const a = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0, target_host: "x" })
      expect(a.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
      expect(a.text).toContain("target_host")
      const b = await call(server, "ssh_tunnel_open", { kind: "local", bind_port: 0, target_host: "127.0.0.1" })
      expect(b.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
      expect(b.text).toContain("target_port")
      const c = await call(server, "ssh_tunnel_open", { kind: "local", bind_port: 70000, target_host: "x", target_port: 1 })
      expect(c.isError).toBe(true)
      expect(c.text).toContain("bind_port")
    })

    it("close releases the port; an unknown id is TUNNEL_NOT_FOUND", async () => {
      const r = await call(server, "ssh_tunnel_close", { tunnel_id: localId })
      expect(r.isError, r.text).toBe(false)
      expect(r.data).toEqual({ tunnel_id: localId, closed: true })
      expect((await connectAndRead(localBind)).error).toBe("ECONNREFUSED")
      expect((await tunnels(server)).map((t) => t.tunnel_id)).not.toContain(localId)
      const again = await call(server, "ssh_tunnel_close", { tunnel_id: localId })
      expect(again.data.error).toMatchObject({ code: "TUNNEL_NOT_FOUND" })
    })

    it("ssh_disconnect closes the host's tunnels and releases their ports", async () => {
      expect((await tunnels(server)).length).toBe(2)
      const d = await call(server, "ssh_disconnect", { host: "box" })
      expect(d.isError, d.text).toBe(false)
      expect(await tunnels(server)).toEqual([])
      expect((await connectAndRead(socksBind)).error).toBe("ECONNREFUSED")
      const c = await sshd.execInside(`curl -s --max-time 5 http://127.0.0.1:${remoteBind}/`)
      expect(c.stdout).not.toBe(localText)
    })
  }, { netns: true })
}

describeWithSshd("tunnels where sshd forbids forwarding", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      args: ["--known-hosts", sshd.knownHostsPath, "--allow-tunnel-bind-any", "--max-tunnels-per-host", "2"]
    })
    const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  let socksBind: number

  it("remote: FORWARD_REFUSED with a hint naming AllowTcpForwarding; the host's other work goes on", async () => {
    const r = await call(server, "ssh_tunnel_open", { kind: "remote", bind_port: 0, target_host: "127.0.0.1", target_port: 80 })
    expect(r.isError).toBe(true)
    expect(r.data.error).toMatchObject({ code: "FORWARD_REFUSED" })
    expect(r.text).toContain("AllowTcpForwarding")
    const e = await call(server, "ssh_exec", { command: "echo still here" })
    expect(e.data.stdout).toBe("still here\n")
    expect(await call(server, "ssh_tunnel_list", {})).toMatchObject({ data: { tunnels: [] } })
  })

  it("dynamic on a non-loopback address with --allow-tunnel-bind-any; sshd's refusal is SOCKS 'not allowed'", async () => {
    const r = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_address: "0.0.0.0", bind_port: 0 })
    expect(r.isError, r.text).toBe(false)
    socksBind = r.data.bind_port as number
    expect(await socksReply(socksBind, "localhost", 22)).toBe(2)
    const t = (await call(server, "ssh_tunnel_list", {})).data.tunnels as Array<TunnelRow>
    expect(t[0]).toMatchObject({ failed_connections: 1 })
    expect(t[0]!.last_error).toMatch(/prohibited/i)
  })

  it("max_tunnels_per_host: LIMIT_REACHED past it", async () => {
    const a = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
    expect(a.isError, a.text).toBe(false)
    const b = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
    expect(b.data.error).toMatchObject({ code: "LIMIT_REACHED" })
    expect(b.text).toContain("max_tunnels_per_host")
  })

  it("shutdown releases every port", async () => {
    await server.close()
    expect((await connectAndRead(socksBind)).error).toBe("ECONNREFUSED")
  })
}, { extraConfig: "AllowTcpForwarding no" })

describeWithSshd("ssh_tunnel_list pages within 16 KiB (SDK 1.x client, which checks outputSchema)", (getSshd) => {
  let server: McpServerProcess

  beforeAll(async () => {
    const sshd = getSshd()
    server = await startMcpServer({ client: "v1", args: ["--known-hosts", sshd.knownHostsPath, "--max-tunnels-per-host", "150"] })
    const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" })
    expect(r.isError, r.text).toBe(false)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("hands 120 tunnels over in pages by next_cursor, every one listed once", async () => {
    const opened = new Set<string>()
    for (let i = 0; i < 120; i++) {
      const r = await call(server, "ssh_tunnel_open", { kind: "dynamic", bind_port: 0 })
      expect(r.isError, r.text).toBe(false)
      opened.add(r.data.tunnel_id as string)
    }
    const seen: Array<string> = []
    let cursor: number | null = 0
    let pages = 0
    while (cursor !== null && pages < 50) {
      const r = await call(server, "ssh_tunnel_list", cursor === 0 ? {} : { cursor })
      expect(r.isError, r.text).toBe(false)
      expect(Buffer.byteLength(JSON.stringify(r.data))).toBeLessThanOrEqual(16_384)
      seen.push(...(r.data.tunnels as Array<{ tunnel_id: string }>).map((t) => t.tunnel_id))
      cursor = (r.data.next_cursor ?? null) as number | null
      pages++
    }
    expect(pages).toBeGreaterThan(1)
    expect(seen.length).toBe(120)
    expect(new Set(seen)).toEqual(opened)
  })
})
