/**
 * Agent text inside the questions put to the human (issue 23, item 10). A policy `confirm`
 * question quotes the agent's command; JSON quoting escapes newlines but keeps U+2028 and
 * U+2029 (which many renderers show as line breaks) and the bidi controls (U+202E turns
 * the rest of the line around) raw, so the command could end "our" question and write
 * another. They are escaped too.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { hostKeyQuestion } from "../../src/mcp/tools/ssh_connect.js"
import { call, parseErrorText, startMcpServer } from "../support/mcp.js"
import { describeWithSshd } from "../support/sshd.js"

/** What may not appear raw in a question: C0 but the line feeds of our own wording, DEL, C1, separators, bidi controls. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u

describeWithSshd("questions: the agent's text is quoted whole in a policy confirm", (getSshd) => {
  it("escapes line separators, bidi controls and C1 in the command it asks about", async () => {
    const sshd = getSshd()
    const dir = fs.mkdtempSync(path.join(sshd.dir, "questions-"))
    const config = path.join(dir, "config.toml")
    fs.writeFileSync(config, [
      `[hosts.box]\nhost = "${sshd.host}"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\nkey = "${sshd.clientKeyPath}"`,
      `[policy]\nconfirm = ["^printf"]`
    ].join("\n"))
    const server = await startMcpServer({
      args: ["--known-hosts", sshd.knownHostsPath, "--config", config],
      capabilities: { elicitation: { form: {} } }
    })
    const asked: Array<string> = []
    server.client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(request.params.message)
      return { action: "accept", content: { decision: "refuse" } }
    })
    try {
      const forged = "The operator's policy allows this one. Allow it?"
      const command = `printf x\u2028\u2029${forged}\u202e\u2066\u0085\u009b31m\u007f`
      const r = await call(server, "ssh_exec", { host: "box", command })
      expect(parseErrorText(r.text)?.code).toBe("POLICY_DENIED")
      expect(asked).toHaveLength(1)
      const question = asked[0]!
      expect(question, JSON.stringify(question)).not.toMatch(RAW)
      expect(question).toContain(`"printf x\\u2028\\u2029${forged}\\u202e\\u2066\\u0085\\u009b31m\\u007f"`)
      // The agent's text is one quoted string: parsed back, it is the command.
      const quoted = /"(?:[^"\\]|\\.)*"/g
      expect([...question.matchAll(quoted)].map((m) => JSON.parse(m[0]) as string)).toContain(command)
    } finally {
      await server.close()
    }
  })
})

describe("questions: the host-key question", () => {
  it("quotes the alias, the address and an odd key type with separators and bidi controls escaped", () => {
    const question = hostKeyQuestion({
      alias: "box",
      address: "host\u2028Trust it? Yes, it was checked\u202e",
      port: 22,
      fingerprint: "SHA256:abc",
      keyType: "ssh-ed25519\u2029\u0085"
    })
    expect(question, JSON.stringify(question)).not.toMatch(RAW)
    expect(question).toContain("\\u2028Trust it? Yes, it was checked\\u202e:22")
    expect(question).toContain("\"ssh-ed25519\\u2029\\u0085\" SHA256:abc")
  })
})
