/**
 * The raw `tools/list` result of the built server over stdio, as a client receives it:
 * its JSON text (what the size budget and the bench measure) and the parsed tools.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MAIN } from "./main.ts"

export interface ListedTool {
  readonly name: string
  readonly description: string
  readonly inputSchema: Record<string, unknown>
  readonly outputSchema: Record<string, unknown>
}

/** The raw `tools/list` result over stdio, as a client receives it: its JSON text and the parsed tools. */
export const rawToolsList = () =>
  new Promise<{ json: string; tools: Array<ListedTool> }>((resolve, reject) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-home-"))
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home }, stdio: ["pipe", "pipe", "ignore"] })
    const send = (m: object) => child.stdin.write(`${JSON.stringify(m)}\n`)
    let buffer = ""
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString()
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        const m = JSON.parse(line) as { id?: number; result?: { tools: Array<ListedTool> } }
        if (m.id === 1) {
          send({ jsonrpc: "2.0", method: "notifications/initialized" })
          send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} })
        } else if (m.id === 2 && m.result !== undefined) {
          // The result's own JSON text: the line minus the JSON-RPC envelope.
          resolve({ json: JSON.stringify(m.result), tools: m.result.tools })
          child.kill()
        }
      }
    })
    child.once("error", reject)
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } } })
  })
