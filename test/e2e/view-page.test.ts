/**
 * The live view as a web page (`--view-port`), for clients that do not render MCP Apps:
 * `ssh_spawn` / `ssh_tail` carry a per-job `view_url` on 127.0.0.1; the listener refuses
 * what lacks the job's token, a foreign Host (DNS rebinding), a POST from another origin
 * and any request body, before reading one; the page itself runs in a real headless
 * Chromium, loads nothing external, follows the job and stops it with TERM. A remote
 * tunnel may not lead to the server's own listeners (the view, the MCP endpoint), even by
 * a name only the resolver turns into 127.0.0.1.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { boxArgs, describeWithSshd, type Sshd } from "../support/sshd.js"
import { until } from "../support/poll.js"

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium"

/** One raw HTTP/1.1 exchange (so the test controls every header and the body). */
const raw = (port: number, request: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (d) => {
      text += d
    })
    socket.on("error", reject)
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }))
    // Not end(): a half-closed request may be dropped before its answer; Connection: close ends it.
    socket.write(request)
  })


describeWithSshd("live view web page (--view-port)", (getSshd) => {
  let sshd: Sshd
  let server: McpServerProcess
  let context: BrowserContext
  let page: Page
  let viewPort: number

  beforeAll(async () => {
    sshd = getSshd()
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM`)
    server = await startMcpServer({ client: "v1", args: [...boxArgs(sshd), "--view-port", "0"] })
    context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"
      ],
      viewport: { width: 760, height: 560 }
    })
    page = context.pages()[0] ?? await context.newPage()
  }, 120_000)
  afterAll(async () => {
    await context?.close()
    await server?.close()
  })

  it("gives each job its own short view_url, and refuses whatever lacks its token, names another host, comes from another origin or carries a body", async () => {
    const a = await call(server, "ssh_spawn", { command: "echo one; sleep 60" })
    const b = await call(server, "ssh_spawn", { command: "echo two; sleep 60" })
    const urlA = a.data.view_url as string
    const urlB = b.data.view_url as string
    expect(urlA).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v\/[A-Za-z0-9_-]{22}$/)
    expect(urlB).not.toBe(urlA)
    viewPort = Number(new URL(urlA).port)
    // ssh_tail gives the same link for the same job.
    const t = await call(server, "ssh_tail", { format: "lines", job_id: a.data.job_id, wait_ms: 2000, until: "one" })
    expect(t.data.view_url).toBe(urlA)
    // The link counts in ssh_tail's 16 KiB budget: a job with far more output still answers within it.
    const big = await call(server, "ssh_spawn", { command: "seq 1 20000" })
    await call(server, "ssh_tail", { job_id: big.data.job_id, wait_ms: 5000, until: "^20000$" })
    const page = await call(server, "ssh_tail", { job_id: big.data.job_id })
    expect(page.data.more).toBe(true)
    expect(page.data.view_url).toMatch(/^http:\/\/127\.0\.0\.1:/)
    expect(Buffer.byteLength(JSON.stringify(page.data))).toBeLessThanOrEqual(16 * 1024)
    const tokenA = new URL(urlA).pathname.split("/")[2]!
    const host = `Host: 127.0.0.1:${viewPort}\r\n`
    const get = (p: string, headers = host) => raw(viewPort, `GET ${p} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`)

    expect((await get(`/v/${tokenA}`)).status).toBe(200)
    expect((await get(`/v/${tokenA}/job`)).text).toContain(a.data.job_id as string)
    // No token, a wrong one, another path: 404 with nothing of any job.
    for (const p of ["/", "/v/", "/v/AAAAAAAAAAAAAAAAAAAAAA", `/v/${tokenA.slice(0, -1)}x`, "/mcp", `/x/${tokenA}`, `/v/${tokenA}/nothing`]) {
      const r = await get(p)
      expect(r.status, p).toBe(404)
      expect(r.text, p).not.toContain("job-")
    }
    // DNS rebinding: the right token under a foreign Host name.
    expect((await get(`/v/${tokenA}`, "Host: evil.example:80\r\n")).status).toBe(403)
    expect((await get(`/v/${tokenA}`, "")).status).toBe(400)
    // A POST from another origin, or with a body, never reaches the job.
    const post = (p: string, extra: string) => raw(viewPort, `POST ${p} HTTP/1.1\r\n${host}${extra}Connection: close\r\n\r\n`)
    expect((await post(`/v/${tokenA}/signal/TERM`, "Origin: http://evil.example\r\n")).status).toBe(403)
    expect((await post(`/v/${tokenA}/signal/TERM`, "Content-Length: 5\r\n")).status).toBe(413)
    expect((await post(`/v/${tokenA}/signal/KILL`, "")).status).toBe(404)
    const listed = await call(server, "ssh_list_jobs", { status: "running" })
    expect((listed.data.jobs as Array<{ job_id: string }>).map((j) => j.job_id)).toContain(a.data.job_id)
    // Headers only, slowly: the listener stops waiting (header timeout) rather than hold the connection.
    const slow = await new Promise<string>((resolve) => {
      let got = ""
      const s = net.connect(viewPort, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\n"))
      s.setEncoding("utf8")
      s.on("data", (d) => {
        got += d
      })
      s.on("error", () => undefined)
      s.on("close", () => resolve(got))
    })
    expect(slow).toMatch(/^(HTTP\/1\.1 408|$)/)
    await call(server, "ssh_remove_job", { job_id: a.data.job_id, force: true })
    await call(server, "ssh_remove_job", { job_id: b.data.job_id, force: true })
    // The job is gone: so is its page.
    expect((await get(`/v/${tokenA}/job`)).status).toBe(404)
  }, 60_000)

  it("the page follows the job in Chromium, loads nothing from elsewhere, and its TERM button stops the job", async () => {
    const spawned = await call(server, "ssh_spawn", {
      command: "printf '\\033[31mred line\\033[0m\\n'; echo 'on stderr' >&2; for i in 1 2 3; do echo tick $i; sleep 0.2; done; sleep 120",
      label: "watch me"
    })
    const url = spawned.data.view_url as string
    const requests: Array<string> = []
    const errors: Array<string> = []
    page.on("request", (r) => requests.push(r.url()))
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    await page.goto(url)
    await until("three ticks", async () => ((await page.locator(".line:not(.partial)").allInnerTexts()).length >= 5 ? true : undefined))
    const lines = (await page.locator(".line:not(.partial)").allInnerTexts()).map((l) => l.trimEnd())
    // stderr travels apart from stdout: its line may come anywhere among them.
    expect(lines.filter((l) => l !== "on stderr")).toEqual(["red line", "tick 1", "tick 2", "tick 3"])
    expect(lines).toContain("on stderr")
    expect(await page.locator(".line.stderr").allInnerTexts()).toEqual(["on stderr\n"])
    expect(await page.locator("#job").innerText()).toContain("watch me")
    expect(await page.locator("#status").innerText()).toBe("running")
    fs.mkdirSync("test-results", { recursive: true })
    fs.writeFileSync(path.join("test-results", "view-page.png"), await page.screenshot())

    await page.locator("#term").click()
    await until("killed", async () => ((await page.locator("#status").innerText()).startsWith("killed") ? true : undefined))
    const listed = await call(server, "ssh_list_jobs", {})
    expect((listed.data.jobs as Array<{ job_id: string; status: string }>).find((j) => j.job_id === spawned.data.job_id)?.status).toBe("killed")

    // Every request went to the view's own origin.
    const origin = `http://127.0.0.1:${viewPort}/`
    expect(requests.length).toBeGreaterThan(2)
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([])
    expect(errors).toEqual([])
  }, 60_000)

  it("a remote tunnel may not lead to the view: refused by address, and by a name the resolver makes 127.0.0.1", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "echo secret-output; sleep 60" })
    const url = new URL(spawned.data.view_url as string)
    const viewPort = Number(url.port)
    for (const target of ["127.0.0.1", "localhost"]) {
      const r = await call(server, "ssh_tunnel_open", { kind: "remote", bind_port: 0, target_host: target, target_port: viewPort })
      expect(r.data.error, `${target}: ${r.text}`).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("own listener") })
    }
    // "127.1" is 127.0.0.1 to the resolver, not to a string check: judged after connecting.
    const sneaky = await call(server, "ssh_tunnel_open", { kind: "remote", bind_port: 0, target_host: "127.1", target_port: viewPort })
    expect(sneaky.isError, sneaky.text).toBe(false)
    const bind = sneaky.data.bind_port as number
    const c = await sshd.exec(`curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: 127.0.0.1:${viewPort}' http://127.0.0.1:${bind}${url.pathname}; true`)
    expect(c.stdout.trim()).toBe("000")
    const row = await until("the refused connection", async () => {
      const l = await call(server, "ssh_tunnel_list", {})
      const t = (l.data.tunnels as Array<Record<string, unknown>>).find((x) => x.tunnel_id === sneaky.data.tunnel_id)
      return Number(t?.failed_connections ?? 0) > 0 ? t : undefined
    })
    expect(row.last_error).toContain("own listener")
    expect(row.bytes_in).toBe(0)
    await call(server, "ssh_tunnel_close", { tunnel_id: sneaky.data.tunnel_id })
    await call(server, "ssh_remove_job", { job_id: spawned.data.job_id, force: true })
  }, 60_000)
})

describeWithSshd("a remote tunnel to the MCP HTTP endpoint", (getSshd) => {
  let server: McpServerProcess
  beforeAll(async () => {
    server = await startMcpServer({ transport: "http", args: boxArgs(getSshd()) })
  })
  afterAll(async () => {
    await server?.close()
  })
  it("is refused: the endpoint is for this machine only", async () => {
    const port = Number(new URL(server.http!.url).port)
    const r = await call(server, "ssh_tunnel_open", { kind: "remote", bind_port: 0, target_host: "127.0.0.1", target_port: port })
    expect(r.data.error, r.text).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("own listener") })
  }, 30_000)
})
