/**
 * The live job view (an MCP App, docs/TOOLS.md). First what any client sees: `ssh_spawn` and
 * `ssh_tail` link a `ui://` resource of the MCP Apps type whose CSP allows nothing
 * external, and the resource is one self-contained HTML page. Then the view itself in
 * a real headless Chromium: a small host page embeds it the way MCP Apps hosts do (the
 * ext-apps SDK's AppBridge, a sandboxed iframe under the declared CSP), relays its tool
 * calls to the real server (built dist/main.js over stdio) and a real sshd, and the test
 * watches a job with colours, a `\r` progress bar and a prompt, then stops it with TERM.
 *
 * Chromium: /usr/bin/chromium (Debian's; .ci/run installs it) or $CHROMIUM.
 * UPDATE_SCREENSHOT=1 also writes the screenshot to docs/live-view.png (shown in README).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { getToolUiResourceUri, RESOURCE_MIME_TYPE } from "@modelcontextprotocol/ext-apps/app-bridge"
import { type BrowserContext, chromium, type FrameLocator, type Page } from "playwright-core"
import { build } from "vite"
import { viteSingleFile } from "vite-plugin-singlefile"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { untilTrue } from "../support/poll.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const VIEW_URI = "ui://ssh/job"
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium"

interface ListedTool { readonly name: string; readonly _meta?: Record<string, unknown> }
interface ResourceContent { readonly uri: string; readonly mimeType?: string; readonly text?: string; readonly _meta?: Record<string, unknown> }

const readView = async (server: McpServerProcess) => {
  const read = await server.client.readResource({ uri: VIEW_URI })
  return read.contents as ReadonlyArray<ResourceContent>
}

describe("live job view: the link and the resource", () => {
  let server: McpServerProcess
  beforeAll(async () => {
    server = await startMcpServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("links ssh_spawn and ssh_tail (and only them) to the view through _meta.ui.resourceUri", async () => {
    const { tools } = await server.client.listTools()
    const linked = (tools as ReadonlyArray<ListedTool>)
      .filter((t) => getToolUiResourceUri(t) !== undefined)
      .map((t) => [t.name, getToolUiResourceUri(t)])
    expect(linked).toEqual([["ssh_spawn", VIEW_URI], ["ssh_tail", VIEW_URI]])
    const spawn = (tools as ReadonlyArray<ListedTool>).find((t) => t.name === "ssh_spawn")!
    expect(spawn._meta).toEqual({ ui: { resourceUri: VIEW_URI } })
  })

  it("lists the view as an MCP App resource whose CSP allows nothing external", async () => {
    const { resources } = await server.client.listResources()
    const listed = resources.find((r) => r.uri === VIEW_URI)
    expect(listed?.mimeType).toBe(RESOURCE_MIME_TYPE)
    expect(RESOURCE_MIME_TYPE).toBe("text/html;profile=mcp-app")
    const contents = await readView(server)
    expect(contents.length).toBe(1)
    const [view] = contents
    expect(view!.mimeType).toBe(RESOURCE_MIME_TYPE)
    const csp = (view!._meta?.ui as { csp?: Record<string, unknown> } | undefined)?.csp
    expect(csp).toEqual({ connectDomains: [], resourceDomains: [], frameDomains: [], baseUriDomains: [] })
  })

  it("is one self-contained HTML page: no script, style or link loaded from elsewhere", async () => {
    const [view] = await readView(server)
    const html = view!.text!
    expect(html).toMatch(/^<!doctype html>/i)
    expect(html).toContain("<script")
    // Every src= / href= attribute in the markup is inline; none points to http(s) or a file.
    const refs = [...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?([^"' >]+)/gi)].map((m) => m[1])
    expect(refs).toEqual([])
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i)
  })
})

/** The host page, bundled once (AppBridge and its MCP client code) into one HTML file. */
const buildHostPage = async (): Promise<string> => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-host-"))
  await build({
    configFile: false,
    root: path.join(ROOT, "test", "browser"),
    logLevel: "warn",
    plugins: [viteSingleFile()],
    build: { outDir, emptyOutDir: true, rollupOptions: { input: path.join(ROOT, "test", "browser", "host.html") } }
  })
  return fs.readFileSync(path.join(outDir, "host.html"), "utf8")
}

const serve = (html: string) =>
  new Promise<http.Server>((resolve) => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
      res.end(html)
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

/** Poll `probe` in the page until it returns true (Playwright's own waits, without @playwright/test). */
const until = (what: string, probe: () => Promise<boolean>) => untilTrue(what, probe, 30_000)

// Coloured lines, a line on stderr, a progress bar redrawn with \r, then a prompt.
const JOB = [
  String.raw`printf '\033[1;36m==>\033[0m \033[1mBuilding\033[0m mcp-ssh-live (release)\n'`,
  String.raw`printf '\033[31mred alert\033[0m\n'`,
  String.raw`printf '\033[32mgreen light\033[0m \033[1;34mbold blue\033[0m\n'`,
  "sleep 0.3",
  "echo 'a warning on stderr' >&2",
  "sleep 0.3",
  String.raw`for i in 1 2 3 4 5 6 7 8 9; do printf '\rprogress [%-10s] %d0%%' "$(printf '%*s' $i '' | tr ' ' '#')" $i; sleep 0.15; done`,
  String.raw`printf '\rprogress [##########] 100%%\n'`,
  String.raw`printf '\033[32m✓\033[0m 412 tests passed \033[2m(38.2 s)\033[0m\n'`,
  "printf 'Deploy to production? [y/N] '",
  "read answer",
  "echo never-printed"
].join("; ")

/**
 * What in-page code (run by Playwright in the browser) uses of the DOM: this file is
 * type-checked without the DOM lib, and page functions cannot close over helpers.
 */
interface Box { readonly scrollWidth: number; readonly clientWidth: number }
interface InPage {
  readonly getComputedStyle: (e: unknown) => { color: string; fontWeight: string; borderLeftColor: string; backgroundColor: string }
  readonly document: { readonly documentElement: Box; getElementById(id: string): Box }
}
interface Scroller { scrollTop: number; readonly scrollHeight: number; readonly clientHeight: number }
interface Host { readonly openView: (options: object) => Promise<void> }

const RING = 300

const DARK = { red: "rgb(241, 76, 76)", green: "rgb(35, 209, 139)", blue: "rgb(59, 142, 234)" }

describeWithSshd("live job view in Chromium", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let web: http.Server
  let context: BrowserContext
  let page: Page
  const requests: Array<string> = []
  const browserErrors: Array<string> = []
  const outDir = path.join(ROOT, "test-results")

  beforeAll(async () => {
    sshd = getSshd()
    fs.mkdirSync(outDir, { recursive: true })
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM`)
    const [hostHtml, started] = await Promise.all([
      buildHostPage(),
      // A small buffer, so that a test can make the server drop lines.
      startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--ring-buffer-lines", String(RING)] })
    ])
    server = started
    const r = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box"
    })
    expect(r.isError, r.text).toBe(false)
    web = await serve(hostHtml)
    context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"
      ],
      viewport: { width: 760, height: 560 },
      deviceScaleFactor: 1
    })
    page = context.pages()[0] ?? await context.newPage()
    page.on("request", (req) => requests.push(req.url()))
    // The page's and the view's console, for diagnosis.
    page.on("console", (m) => {
      if (m.type() !== "error" && m.type() !== "warning") return
      process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`)
      if (m.type() === "error") browserErrors.push(m.text())
    })
    page.on("pageerror", (e) => {
      process.stderr.write(`[browser error] ${e.message}\n`)
      browserErrors.push(e.message)
    })
    // The host's link to the server: the view's tool calls, made by the test's real MCP client.
    await page.exposeFunction("mcpCallTool", async (params: { name: string; arguments?: Record<string, unknown> }) =>
      server.client.callTool({ name: params.name, arguments: params.arguments ?? {} }, { timeout: 90_000 }))
    await page.goto(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`)
  }, 120_000)

  afterAll(async () => {
    await context?.close()
    web?.close()
    await server?.close()
  })

  /** Open the view for a tool call the "agent" made, as a host does. */
  const openView = async (toolName: string, args: Record<string, unknown>, result: object, theme: "light" | "dark") => {
    const [view] = await readView(server)
    const csp = (view!._meta?.ui as { csp?: object } | undefined)?.csp
    await page.evaluate((o) => (globalThis as unknown as Host).openView(o), { html: view!.text!, csp, toolName, args, result, theme })
    return page.frameLocator("iframe")
  }

  const texts = (frame: FrameLocator, selector: string) => frame.locator(selector).allInnerTexts()

  it("follows a job line by line with its colours, shows the progress bar's last state and the prompt, and TERM stops it", async () => {
    const args = { command: JOB, label: "demo build" }
    const spawnResult = await server.client.callTool({ name: "ssh_spawn", arguments: args }, { timeout: 30_000 })
    expect(spawnResult.isError, JSON.stringify(spawnResult)).not.toBe(true)
    const jobId = spawnResult.structuredContent!.job_id as string
    const frame = await openView("ssh_spawn", args, spawnResult, "dark")

    // The prompt shows once the job waits at it.
    const prompt = frame.locator("#prompt")
    await until("the prompt", async () => await prompt.isVisible() && (await prompt.innerText()).includes("Deploy to production? [y/N]"))

    const lines = (await texts(frame, ".line:not(.partial)")).map((t) => t.trimEnd())
    expect(lines).toEqual([
      "==> Building mcp-ssh-live (release)",
      "red alert",
      "green light bold blue",
      "a warning on stderr",
      "progress [##########] 100%",
      "✓ 412 tests passed (38.2 s)"
    ])
    // Only the progress bar's final state is a line; the prompt is the partial line.
    expect(lines.filter((l) => l.startsWith("progress"))).toEqual(["progress [##########] 100%"])
    expect((await texts(frame, ".line.partial")).map((t) => t.trimEnd())).toEqual(["Deploy to production? [y/N]"])
    expect(await texts(frame, ".line.stderr")).toEqual(["a warning on stderr\n"])

    const color = (text: string) =>
      frame.locator("span.line span", { hasText: text }).first().evaluate((e) => {
        const s = (globalThis as unknown as InPage).getComputedStyle(e)
        return { color: s.color, weight: s.fontWeight }
      })
    expect(await color("red alert")).toMatchObject({ color: DARK.red })
    expect(await color("green light")).toMatchObject({ color: DARK.green })
    expect(await color("bold blue")).toEqual({ color: DARK.blue, weight: "700" })
    // Stdout and stderr are told apart at a glance (stderr has its own border colour).
    const border = (selector: string) => frame.locator(selector).first().evaluate((e) => (globalThis as unknown as InPage).getComputedStyle(e).borderLeftColor)
    expect(await border(".line.stderr")).not.toBe(await border(".line.stdout"))

    expect(await frame.locator("#status").innerText()).toBe("running")
    expect(await frame.locator("#term").isEnabled()).toBe(true)
    expect(await frame.locator("#job").innerText()).toContain(jobId)

    const shot = await page.locator("#frame").screenshot()
    fs.writeFileSync(path.join(outDir, "live-view.png"), shot)
    if (process.env.UPDATE_SCREENSHOT === "1") fs.writeFileSync(path.join(ROOT, "docs", "live-view.png"), shot)

    await frame.locator("#term").click()
    await until("status killed", async () => (await frame.locator("#status").innerText()).startsWith("killed"))
    expect(await frame.locator("#status").innerText()).toBe("killed (TERM)")
    expect(await frame.locator("#term").isDisabled()).toBe(true)
    expect(await frame.locator("#prompt").isVisible()).toBe(false)
    const listed = await call(server, "ssh_list_jobs", {})
    const job = (listed.data.jobs as Array<{ job_id: string; status: string }>).find((j) => j.job_id === jobId)
    expect(job?.status).toBe("killed")

    // The page and the view loaded nothing but the host page itself.
    const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`
    expect(requests.filter((u) => u !== origin && !u.startsWith("about:") && !u.startsWith("data:"))).toEqual([])
    // Nor did anything break the CSP (a violation is a console error) or throw.
    expect(browserErrors).toEqual([])
  }, 90_000)

  it("opened from ssh_tail, follows that job; fits a narrow width in the light theme", async () => {
    await page.setViewportSize({ width: 340, height: 600 })
    await page.reload()
    const spawned = await call(server, "ssh_spawn", { command: "for i in 1 2 3; do echo \"line $i with a rather long text that must wrap at narrow widths\"; sleep 0.2; done" })
    const jobId = spawned.data.job_id as string
    const args = { job_id: jobId, wait_ms: 0 }
    const tailResult = await server.client.callTool({ name: "ssh_tail", arguments: args }, { timeout: 30_000 })
    const frame = await openView("ssh_tail", args, tailResult, "light")
    await until("the job's end", async () => (await frame.locator("#status").innerText()) === "exited 0")
    expect((await texts(frame, ".line:not(.partial)")).length).toBe(3)
    // Nothing wider than the view: no horizontal scrolling at 340 px.
    const overflow = await frame.locator("body").evaluate(() => {
      const { document } = globalThis as unknown as InPage
      const out = document.getElementById("out")
      return {
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        out: out.scrollWidth - out.clientWidth
      }
    })
    expect(overflow).toEqual({ page: 0, out: 0 })
    expect(await frame.locator("#term").isDisabled()).toBe(true)
    // The light theme's own colours, not the dark ones.
    const bg = await frame.locator("body").evaluate((e) => (globalThis as unknown as InPage).getComputedStyle(e).backgroundColor)
    expect(bg).toBe("rgb(255, 255, 255)")
    fs.writeFileSync(path.join(outDir, "live-view-narrow.png"), await page.screenshot({ fullPage: true }))
  }, 60_000)

  it("shows markup in the output as text, keeps to the newest line while following, stays put when not, and INT interrupts the job", async () => {
    await page.setViewportSize({ width: 760, height: 560 })
    await page.reload()
    const args = { command: "echo '<b>not bold</b><img src=x onerror=alert(1)>'; seq 1 100; sleep 1.5; seq 101 200; sleep 60" }
    const spawnResult = await server.client.callTool({ name: "ssh_spawn", arguments: args }, { timeout: 30_000 })
    const jobId = spawnResult.structuredContent!.job_id as string
    const frame = await openView("ssh_spawn", args, spawnResult, "light")
    const out = frame.locator("#out")
    const scroll = () => out.evaluate((e) => {
      const o = e as Scroller
      return { top: o.scrollTop, bottom: o.scrollHeight - o.clientHeight }
    })
    const lineCount = async () => (await texts(frame, ".line:not(.partial)")).length
    await until("100 lines", async () => await lineCount() >= 101)
    // The job's output is text, never markup for the page.
    expect((await texts(frame, ".line:not(.partial)"))[0]!.trimEnd()).toBe("<b>not bold</b><img src=x onerror=alert(1)>")
    expect(await frame.locator("#out b, #out img").count()).toBe(0)
    // Following: scrolled to the newest line.
    const followed = await scroll()
    expect(followed.bottom).toBeGreaterThan(0)
    expect(followed.top).toBe(followed.bottom)
    // Not following: new lines do not move the view.
    await frame.locator("#follow").uncheck()
    await out.evaluate((e) => {
      (e as Scroller).scrollTop = 0
    })
    await until("200 lines", async () => await lineCount() === 201)
    expect((await scroll()).top).toBe(0)
    // Following again jumps to the end.
    await frame.locator("#follow").check()
    const again = await scroll()
    expect(again.top).toBe(again.bottom)

    await frame.locator("#int").click()
    await until("the job's end", async () => !(await frame.locator("#status").innerText()).startsWith("running"))
    expect(await frame.locator("#status").innerText()).toMatch(/^(killed \(INT\)|exited 130)$/)
    const listed = await call(server, "ssh_list_jobs", {})
    const job = (listed.data.jobs as Array<{ job_id: string; status: string }>).find((j) => j.job_id === jobId)
    expect(job?.status).not.toBe("running")
  }, 60_000)

  it("shows an OSC 8 link only when its text is its target; otherwise the text alone (issue 23, item 11)", async () => {
    await page.reload()
    const command = [
      // Text that says one thing and links to another.
      String.raw`printf '\033]8;;https://evil.example/steal\033\\docs: https://example.com/\033]8;;\033\\\n'`,
      // A link that shows its target.
      String.raw`printf 'see \033]8;;https://example.com/\007https://example.com/\033]8;;\007 ok\n'`,
      // A scheme that is not linked (ls --hyperlink): the file name must still show.
      String.raw`printf '\033]8;;file:///etc/passwd\007passwd\033]8;;\007\n'`,
      // The opening sequence cut by a newline: the view joins its converter's input across lines.
      String.raw`printf '\033]8;;https://evil.example/x\n\007spoofed\033]8;;\007\n'`,
      "echo end"
    ].join("; ")
    const args = { command }
    const spawnResult = await server.client.callTool({ name: "ssh_spawn", arguments: args }, { timeout: 30_000 })
    const frame = await openView("ssh_spawn", args, spawnResult, "dark")
    await until("the job's end", async () => (await frame.locator("#status").innerText()) === "exited 0")
    const lines = (await texts(frame, ".line:not(.partial)")).map((t) => t.trimEnd())
    expect(lines[0]).toBe("docs: https://example.com/")
    expect(lines[1]).toBe("see https://example.com/ ok")
    expect(lines[2]).toBe("passwd")
    expect(lines.join("\n")).toContain("spoofed")
    const links = await frame.locator("#out a").evaluateAll((as) => as.map((a) => [(a as unknown as { href: string }).href, (a as unknown as { textContent: string }).textContent]))
    expect(links).toEqual([["https://example.com/", "https://example.com/"]])
  }, 60_000)

  it("counts the lines the server no longer held when the view read them", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "seq 1 1000; echo done" })
    const jobId = spawned.data.job_id as string
    // Let the job end first, so that its first 701 lines are gone from the buffer.
    for (let i = 0; i < 100; i++) {
      const listed = await call(server, "ssh_list_jobs", {})
      if ((listed.data.jobs as Array<{ job_id: string; status: string }>).find((j) => j.job_id === jobId)?.status !== "running") break
      await new Promise((r) => setTimeout(r, 100))
    }
    await page.reload()
    const args = { job_id: jobId }
    const tailResult = await server.client.callTool({ name: "ssh_tail", arguments: args }, { timeout: 30_000 })
    const frame = await openView("ssh_tail", args, tailResult, "dark")
    await until("the job's end", async () => (await frame.locator("#status").innerText()) === "exited 0")
    const lines = (await texts(frame, ".line:not(.partial)")).map((t) => t.trimEnd())
    expect(lines.length).toBe(RING)
    expect(lines.at(-1)).toBe("done")
    expect(lines[0]).toBe(String(1001 - RING + 1))
    expect(await frame.locator("#dropped").isVisible()).toBe(true)
    expect(await frame.locator("#dropped").innerText()).toBe(`${1001 - RING} lines dropped`)
  }, 60_000)
})
