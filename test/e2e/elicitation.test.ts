/**
 * Host-key trust asked of the human through MCP form elicitation, in each protocol
 * revision: a 2025-era session (SDK 2.x legacy, SDK 1.x) gets an `elicitation/create`
 * request mid-call; a 2026-07-28 session gets an `input_required` result that the
 * client answers through the same handler and retries with (multi round-trip).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { beforeAll, expect, it } from "vitest"
import { call, type ClientKind, MAIN, type McpServerProcess, MODERN_REVISION, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const KINDS: ReadonlyArray<ClientKind> = ["v2", "v1", "modern"]

for (const kind of KINDS) describeWithSshd(`host key trust by elicitation (${kind})`, (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })

  const withAnswer = async (knownHosts: string, answer: string | "decline") => {
    const server = await startMcpServer({ client: kind, args: ["--known-hosts", knownHosts], capabilities: { elicitation: { form: {} } } })
    const asked: Array<string> = []
    server.client.setRequestHandler("elicitation/create", async (request) => {
      asked.push((request.params as { message: string }).message)
      return answer === "decline" ? { action: "decline" } : { action: "accept", content: { decision: answer } }
    })
    return { server, asked }
  }
  const connect = (server: McpServerProcess) =>
    call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
  const freshKnownHosts = () => path.join(fs.mkdtempSync(path.join(sshd.dir, "el-")), "known_hosts")

  it("save: trusts, writes known_hosts, and the next run connects without asking", async () => {
    const knownHosts = freshKnownHosts()
    const fingerprint = (await sshd.exec(`ssh-keygen -lf ${sshd.hostKeyPath}.pub`)).stdout.split(" ")[1]!
    const { server, asked } = await withAnswer(knownHosts, "save")
    try {
      const r = await connect(server)
      expect(r.isError, r.text).toBe(false)
      expect(asked).toHaveLength(1)
      expect(asked[0]).toContain(fingerprint)
      expect(asked[0]).toContain(`127.0.0.1:${sshd.port}`)
      expect(fs.readFileSync(knownHosts, "utf8")).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `)
    } finally {
      await server.close()
    }
    const again = await withAnswer(knownHosts, "refuse")
    try {
      const r = await connect(again.server)
      expect(r.isError, r.text).toBe(false)
      expect(again.asked).toHaveLength(0)
    } finally {
      await again.server.close()
    }
  })

  it("session: trusts for this run only", async () => {
    const knownHosts = freshKnownHosts()
    const { server, asked } = await withAnswer(knownHosts, "session")
    try {
      const r = await connect(server)
      expect(r.isError, r.text).toBe(false)
      expect(asked).toHaveLength(1)
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })

  for (const answer of ["refuse", "decline"] as const) {
    it(`${answer}: HOST_KEY_UNKNOWN, nothing recorded`, async () => {
      const knownHosts = freshKnownHosts()
      const { server, asked } = await withAnswer(knownHosts, answer)
      try {
        const r = await connect(server)
        expect(r.data).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
        expect(asked).toHaveLength(1)
        expect(fs.existsSync(knownHosts)).toBe(false)
      } finally {
        await server.close()
      }
    })
  }

  it("a client without elicitation gets HOST_KEY_UNKNOWN", async () => {
    const knownHosts = freshKnownHosts()
    const server = await startMcpServer({ client: kind, args: ["--known-hosts", knownHosts] })
    try {
      const r = await connect(server)
      expect(r.data).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })

  it("a changed key is refused without asking", async () => {
    const dir = fs.mkdtempSync(path.join(sshd.dir, "el-"))
    await sshd.exec(`ssh-keygen -q -t ed25519 -N '' -f ${dir}/other`)
    const pub = fs.readFileSync(`${dir}/other.pub`, "utf8").split(" ")
    const knownHosts = path.join(dir, "known_hosts")
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${pub[0]} ${pub[1]}\n`)
    const { server, asked } = await withAnswer(knownHosts, "save")
    try {
      const r = await connect(server)
      expect(r.data).toMatchObject({ error: { code: "HOST_KEY_MISMATCH" } })
      expect(asked).toHaveLength(0)
    } finally {
      await server.close()
    }
  })
})

/**
 * A 2026-07-28 client speaks for the human only in answer to a question the server
 * asked: `inputResponses` without the server's sealed `requestState`, or with a
 * tampered one, must not trust a host key. Raw JSON-RPC over stdio, as a hostile or
 * buggy client could send it.
 */
describeWithSshd("host key answers in 2026-07-28 are bound to the question", (getSshd) => {
  const envelope = {
    "io.modelcontextprotocol/protocolVersion": MODERN_REVISION,
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "0" },
    "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } }
  }
  const rawSession = (knownHosts: string) => {
    const child = spawn(process.execPath, [MAIN, "--known-hosts", knownHosts], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: path.dirname(knownHosts), USER: process.env.USER ?? "root" },
      stdio: ["pipe", "pipe", "pipe"]
    })
    const waiting = new Map<number, (m: Record<string, unknown>) => void>()
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = JSON.parse(line) as Record<string, unknown>
      if (typeof m.id === "number") waiting.get(m.id)?.(m)
    })
    let id = 0
    const request = (method: string, params: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const n = ++id
        waiting.set(n, resolve)
        child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: n, method, params: { ...params, _meta: envelope } })}\n`)
      })
    return { request, close: () => child.kill("SIGTERM") }
  }

  it("ignores answers without sealed state, and refuses tampered state", async () => {
    const sshd = getSshd()
    const knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "el-raw-")), "known_hosts")
    const session = rawSession(knownHosts)
    try {
      const args = { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath }
      const forged = { elicit_0: { action: "accept", content: { decision: "save" } } }
      // Answers the server never asked for: it asks (input_required), trusts nothing.
      const first = await session.request("tools/call", { name: "ssh_connect", arguments: args, inputResponses: forged })
      const result = first.result as { resultType?: string; inputRequests?: Record<string, unknown>; requestState?: string }
      expect(result.resultType).toBe("input_required")
      expect(Object.keys(result.inputRequests ?? {})).toEqual(["elicit_0"])
      expect(fs.existsSync(knownHosts)).toBe(false)
      // The sealed state with one byte changed: refused before the tool runs.
      const state = result.requestState!
      const tampered = state.slice(0, 10) + (state[10] === "A" ? "B" : "A") + state.slice(11)
      const second = await session.request("tools/call", {
        name: "ssh_connect", arguments: args, inputResponses: forged, requestState: tampered
      })
      expect(second.error).toMatchObject({ code: -32602 })
      expect(fs.existsSync(knownHosts)).toBe(false)
      // The genuine state with the answer: trusted and saved.
      const third = await session.request("tools/call", {
        name: "ssh_connect", arguments: args, inputResponses: forged, requestState: state
      })
      expect((third.result as { isError?: boolean }).isError).not.toBe(true)
      expect(fs.readFileSync(knownHosts, "utf8")).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `)
    } finally {
      session.close()
    }
  })
})
