/**
 * What the transfer suites share: an MCP server over one sshd with a private local
 * directory and a remote one owned by the test user, and fake commands put first on the
 * host's PATH (to log or break `tar`, `openssl` …).
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { type McpServerProcess, startMcpServer } from "./mcp.js"
import { boxArgs, type Sshd } from "./sshd.js"

export interface TransferBox {
  server: McpServerProcess
  sshd: Sshd
  /** A fresh local directory (realpath). */
  local: string
  /** A fresh directory on the host, owned by the test user. */
  remote: string
}

/** Start the box before the suite's tests and remove both directories after. */
export const transferBox = (getSshd: () => Sshd, name: string): TransferBox => {
  const s = {} as TransferBox
  beforeAll(async () => {
    s.sshd = getSshd()
    s.local = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `mcpssh-${name}-`)))
    s.remote = `/tmp/mcpssh-${name}-${randomBytes(4).toString("hex")}`
    await s.sshd.exec(`mkdir -p ${s.remote} && chown ${s.sshd.user.name} ${s.remote}`)
    s.server = await startMcpServer({ args: boxArgs(s.sshd) })
  })
  afterAll(async () => {
    if (process.env.SHOW_STDERR) console.log(s.server?.stderr())
    await s.server?.close()
    await s.sshd?.exec(`rm -rf ${s.remote}`)
    fs.rmSync(s.local, { recursive: true, force: true })
  })
  return s
}

/** A directory of fake commands (name → shell script), for `pathWith`. */
export const fakeBin = (scripts: Record<string, string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-fakebin-"))
  fs.chmodSync(dir, 0o755)
  for (const [name, script] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 })
  return dir
}

/** sshd options that put `dir` first on the PATH of every session. */
export const pathWith = (dir: string) => ({ extraConfig: `SetEnv PATH=${dir}:/usr/local/bin:/usr/bin:/bin` })
