/**
 * Agent text in the server's logs (issue 23, item 9): a command is logged when its job
 * starts, on stderr and as an MCP log notification. Raw, its escape sequences reach the
 * operator's terminal (OSC 52 sets the clipboard, OSC 0 the window title) and its newlines
 * forge whole log records. Every log line is written with its control characters escaped.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailToEnd } from "../support/mcp.js"
import { boxArgs, describeWithSshd } from "../support/sshd.js"

const ESC = "\u001b"
const BEL = "\u0007"
/** What a terminal must never receive from the agent: C0 (but the line feed ending each record), DEL, C1, bidi overrides. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u

describeWithSshd("logs: agent text is escaped in every log line", (getSshd) => {
  let server: McpServerProcess
  const notes: Array<string> = []

  beforeAll(async () => {
    server = await startMcpServer({ args: boxArgs(getSshd()) })
    server.client.setNotificationHandler("notifications/message", (n) => {
      const data = (n.params as { data?: unknown } | undefined)?.data
      notes.push(typeof data === "string" ? data : JSON.stringify(data))
    })
    await server.client.setLoggingLevel("debug")
  })
  afterAll(async () => {
    await server?.close()
  })

  it("escapes ESC, BEL, newlines and bidi overrides of a command in stderr and in log notifications", async () => {
    const marker = `m${Date.now()}`
    const payload = `${ESC}]52;c;cHduZWQ=${BEL}${ESC}]0;${marker}-title${BEL}\u202e${ESC}[2J`
    const forged = `[00:00:00.000] ERROR (#1): ${marker} forged record`
    const command = `: '${payload}'\n: '${forged}'\necho ${marker}`
    const s = await call(server, "ssh_spawn", { command, label: `${ESC}]0;label${BEL}` })
    expect(s.isError, s.text).toBe(false)
    const { lines } = await tailToEnd(server, s.data.job_id as string)
    expect(lines.map((l) => l.text)).toContain(marker)
    await new Promise((r) => setTimeout(r, 300))

    const stderr = server.stderr()
    const started = stderr.split("\n").filter((l) => l.includes(s.data.job_id as string) && l.includes("started"))
    expect(started.length, stderr.slice(-2000)).toBeGreaterThan(0)
    // The command is there, escaped, on the one line of its record.
    expect(started[0]).toContain("\\x1b]52;c;cHduZWQ=\\x07")
    expect(started[0]).toContain(`\\n: '${forged}'`)
    for (const line of stderr.split("\n")) {
      expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL)
      expect(line.startsWith(forged)).toBe(false)
    }

    const note = notes.find((n) => n.includes(s.data.job_id as string) && n.includes("started"))
    expect(note, JSON.stringify(notes)).toBeDefined()
    expect(note).toContain("\\x1b]52;c;")
    for (const n of notes) {
      expect(n, JSON.stringify(n)).not.toMatch(RAW_CONTROL)
      expect(n).not.toContain("\n")
    }
  })
})
