/**
 * Keyboard-interactive beyond the password (issue #28), against ssh2's own `Server` on
 * loopback: it asks "Password:" and then a one-time code. The password answers only the
 * first; the code is asked of the person by form elicitation (each protocol revision),
 * with the server's text quoted; without elicitation, or declined, AUTH_PROMPT_UNANSWERED
 * names the prompt. The handshake timeout waits for the person; a background reconnect
 * cannot ask, and the next call says so.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import ssh2 from "ssh2"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, type ClientKind, type McpServerProcess, startMcpServer } from "../support/mcp.js"

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`
const CODE = String(100000 + Math.floor(Math.random() * 899999))
const USER = "otp-user"

interface OtpServer {
  readonly port: number
  readonly knownHosts: string
  /** The code prompt the server sends (tests change it). */
  prompt: string
  /** Prompts the server got an answer to, and the answers. */
  readonly answered: Array<{ prompt: string; answer: string }>
  /** End every connection (the host drops them). */
  dropAll(): void
  close(): Promise<void>
}

const startOtpServer = async (): Promise<OtpServer> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-otp-"))
  const keyPath = path.join(dir, "host_ed25519")
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath])
  const clients = new Set<ssh2.Connection>()
  const state = { prompt: "Verification code: ", answered: [] as Array<{ prompt: string; answer: string }> }
  const server = new ssh2.Server({ hostKeys: [fs.readFileSync(keyPath)] }, (client) => {
    clients.add(client)
    client.on("close", () => clients.delete(client))
    client.on("error", () => {})
    client.on("authentication", (ctx) => {
      if (ctx.method !== "keyboard-interactive" || ctx.username !== USER) return ctx.reject(["keyboard-interactive"])
      ctx.prompt([{ prompt: "Password: ", echo: false }], (first) => {
        state.answered.push({ prompt: "Password: ", answer: first[0] ?? "" })
        if (first[0] !== PASSWORD) return ctx.reject()
        const prompt = state.prompt
        ctx.prompt([{ prompt, echo: true }], "Two-factor", "Enter the code from your app.", (second) => {
          state.answered.push({ prompt, answer: second[0] ?? "" })
          return second[0] === CODE ? ctx.accept() : ctx.reject()
        })
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  const knownHosts = path.join(dir, "known_hosts")
  const pub = fs.readFileSync(`${keyPath}.pub`, "utf8").trim().split(" ")
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`)
  return Object.assign(state, {
    port,
    knownHosts,
    dropAll: () => {
      for (const c of clients) c.end()
    },
    close: async () => {
      for (const c of clients) c.end()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

type Answer = "code" | "decline" | { readonly delayMs: number }

describe("one-time codes asked of the person", () => {
  let otp: OtpServer
  beforeAll(async () => {
    otp = await startOtpServer()
  })
  afterAll(async () => {
    await otp?.close()
  })

  const start = async (kind: ClientKind, answer: Answer | undefined, args: ReadonlyArray<string> = []) => {
    const auditLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-otp-audit-")), "audit.jsonl")
    const server = await startMcpServer({
      client: kind,
      args: ["--known-hosts", otp.knownHosts, "--audit-log", auditLog, ...args],
      ...(answer !== undefined ? { capabilities: { elicitation: { form: {} } } } : {})
    })
    const asked: Array<{ message: string; schema: unknown }> = []
    if (answer !== undefined) {
      server.client.setRequestHandler("elicitation/create", async (request) => {
        asked.push({ message: request.params.message, schema: request.params.requestedSchema })
        if (answer === "decline") return { action: "decline" }
        if (typeof answer === "object") await new Promise((r) => setTimeout(r, answer.delayMs))
        return { action: "accept", content: { code_0: CODE } }
      })
    }
    return { server, asked, auditLog }
  }
  const connect = (server: McpServerProcess, alias = "otp") =>
    call(server, "ssh_connect", { host: "127.0.0.1", port: otp.port, user: USER, password: PASSWORD, alias })
  /** Neither the code nor the password is in the server's log or the audit log. */
  const noSecretsIn = (server: McpServerProcess, auditLog: string) => {
    const audit = fs.existsSync(auditLog) ? fs.readFileSync(auditLog, "utf8") : ""
    for (const text of [server.stderr(), audit]) {
      expect(text).not.toContain(CODE)
      expect(text).not.toContain(PASSWORD)
    }
  }

  for (const kind of ["v2", "v1", "modern"] as const) {
    it(`${kind}: the password answers "Password:", the person answers the code`, async () => {
      const { server, asked, auditLog } = await start(kind, "code")
      try {
        otp.answered.length = 0
        const r = await connect(server)
        expect(r.isError, r.text).toBe(false)
        expect(r.data.auth_method).toBe("keyboard-interactive")
        // 2026-07-28 runs the call (and the handshake) again with the answer: the first round got no code.
        expect(otp.answered.at(-1)).toEqual({ prompt: "Verification code: ", answer: CODE })
        for (const a of otp.answered) expect(a.answer).toBe(a.prompt === "Password: " ? PASSWORD : CODE)
        expect(otp.answered.filter((a) => a.prompt === "Password: ")).toHaveLength(kind === "modern" ? 2 : 1)
        // Asked once per round trip the client made (2026-07-28 asks in an input_required result), always the code only.
        expect(asked.length).toBeGreaterThanOrEqual(1)
        for (const a of asked) {
          expect(a.message).toContain(`"Verification code: "`)
          expect(a.message).toContain(`"Enter the code from your app."`)
          expect(a.message).toMatch(/one-time code/)
          expect(a.message).not.toContain(PASSWORD)
          expect(a.schema).toMatchObject({ properties: { code_0: { type: "string", title: "One-time code" } }, required: ["code_0"] })
        }
        noSecretsIn(server, auditLog)
      } finally {
        await server.close()
      }
    })
  }

  it("without elicitation: AUTH_PROMPT_UNANSWERED naming the prompt", async () => {
    const { server, auditLog } = await start("v2", undefined)
    try {
      const r = await connect(server)
      expect(r.data).toMatchObject({ error: { code: "AUTH_PROMPT_UNANSWERED", message: expect.stringContaining(`"Verification code: "`) } })
      noSecretsIn(server, auditLog)
    } finally {
      await server.close()
    }
  })

  it("declined: AUTH_PROMPT_UNANSWERED, and the server got no answer", async () => {
    const { server, asked } = await start("v2", "decline")
    try {
      otp.answered.length = 0
      const r = await connect(server)
      expect(r.data).toMatchObject({ error: { code: "AUTH_PROMPT_UNANSWERED" } })
      expect(asked).toHaveLength(1)
      expect(otp.answered.map((a) => a.prompt)).toEqual(["Password: "])
    } finally {
      await server.close()
    }
  })

  it("no password given: AUTH_FAILED naming the password prompt, never asked of the person", async () => {
    const { server, asked } = await start("v2", "code")
    try {
      const r = await call(server, "ssh_connect", { host: "127.0.0.1", port: otp.port, user: USER, alias: "nopw" })
      expect(r.data).toMatchObject({ error: { code: "AUTH_FAILED", message: expect.stringContaining(`asks for a password ("Password: ")`) } })
      expect(asked).toEqual([])
    } finally {
      await server.close()
    }
  })

  it("quotes the server's text: line breaks and bidi controls stay escaped", async () => {
    const { server, asked } = await start("v2", "code")
    otp.prompt = "Code:\nTrust this host? yes\u202e\u2028"
    try {
      const r = await connect(server)
      expect(r.isError, r.text).toBe(false)
      expect(asked[0]!.message).toContain(`"Code:\\nTrust this host? yes\\u202e\\u2028"`)
      expect(asked[0]!.message).not.toMatch(/[\u202e\u2028]/)
    } finally {
      otp.prompt = "Verification code: "
      await server.close()
    }
  })

  it("the handshake timeout waits while the person is asked", async () => {
    const { server } = await start("v2", { delayMs: 2500 }, ["--connect-timeout-ms", "1000"])
    try {
      const r = await connect(server)
      expect(r.isError, r.text).toBe(false)
    } finally {
      await server.close()
    }
  })

  it("a dropped connection cannot reconnect in the background; the next call says so, and ssh_connect asks again", async () => {
    const { server, asked } = await start("v2", "code")
    try {
      expect((await connect(server)).isError).toBe(false)
      expect(asked).toHaveLength(1)
      otp.dropAll()
      const deadline = Date.now() + 15_000
      while (!/gave up reconnecting otp/.test(server.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(server.stderr()).toMatch(/gave up reconnecting otp: .*Verification code/)
      const r = await call(server, "ssh_exec", { host: "otp", command: "true" })
      expect(r.data).toMatchObject({ error: { code: "AUTH_PROMPT_UNANSWERED", hint: expect.stringMatching(/ssh_connect/) } })
      const again = await connect(server)
      expect(again.isError, again.text).toBe(false)
      expect(asked).toHaveLength(2)
    } finally {
      await server.close()
    }
  })
})
