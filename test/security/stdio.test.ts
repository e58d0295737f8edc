/**
 * stdio belongs to the client: nothing may reach stdout before it sent `initialize`
 * (a client that reads our first line as the answer to its initialize breaks), and the
 * first line after it is that answer.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, it } from "vitest"
import { MAIN } from "../support/mcp.js"
import { initializeBody } from "../support/rawHttp.js"

it("writes nothing to stdout before the client's initialize, then answers it first", async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
  const child = spawn(process.execPath, [MAIN, "--log-level", "debug"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: "root" },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d
  })
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
  })
  try {
    // Wait until the server says on stderr that it is ready, then a while longer.
    for (let i = 0; i < 100 && !/ready/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100))
    expect(stderr).toMatch(/ready/)
    await new Promise((r) => setTimeout(r, 1_000))
    expect(stdout).toBe("")

    child.stdin.write(`${JSON.stringify(initializeBody("2025-11-25", 7))}\n`)
    for (let i = 0; i < 100 && !stdout.includes("\n"); i++) await new Promise((r) => setTimeout(r, 50))
    const first = JSON.parse(stdout.split("\n")[0]!) as { id?: number; result?: { protocolVersion?: string } }
    expect(first.id).toBe(7)
    expect(first.result?.protocolVersion).toBe("2025-11-25")
  } finally {
    child.kill("SIGTERM")
  }
})
