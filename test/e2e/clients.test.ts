/**
 * The client matrix itself: which protocol revision each client kind negotiates, and
 * that typed tool errors reach every client as `isError` results with their
 * `CODE: message (hint: …)` text (SDK 1.x checks results against the outputSchema
 * even on errors: a `structuredContent` on an error would surface as -32602 instead).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { LATEST_PROTOCOL_VERSION as V1_LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type ClientKind, MODERN_REVISION, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { removeHostTmp } from "../support/hostTmp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const EXPECTED_REVISION: Record<ClientKind, string> = {
  v2: "2025-11-25",
  v1: V1_LATEST_PROTOCOL_VERSION,
  modern: MODERN_REVISION
}

afterAll(() => removeHostTmp(new RegExp(`^mcpssh-clients-${process.pid}-`)))

for (const m of CLIENT_MATRIX) describeWithSshd(`client ${m.name}`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let knownHosts: string
  beforeAll(async () => {
    sshd = getSshd()
    // An empty known_hosts of its own, so that the first connect meets an unknown key; the
    // operator lets the agent accept it (docs/SECURITY.md), so the second connect can pass insecure_auto_add.
    knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "clients-")), "known_hosts")
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: ["--known-hosts", knownHosts, "--allow-agent-insecure-auto-add"]
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  it(`negotiates ${EXPECTED_REVISION[m.client]}`, () => {
    expect(server.client.protocolVersion()).toBe(EXPECTED_REVISION[m.client])
  })

  it("receives typed errors as isError results with CODE: message (hint: …)", async () => {
    const expectError = async (tool: string, args: Record<string, unknown>, code: string, hinted: boolean) => {
      // A protocol error (e.g. -32602 from an outputSchema check) would throw here.
      const r = await call(server, tool, args)
      expect(r.isError, `${tool}: ${r.text}`).toBe(true)
      expect(r.text, tool).toMatch(new RegExp(`^${code}: \\S`))
      expect(r.data.error, tool).toMatchObject({ code })
      if (hinted) expect(r.text, tool).toMatch(/ \(hint: .+\)$/)
      return r
    }
    await expectError("ssh_exec", { command: "true", host: "nowhere" }, "HOST_NOT_FOUND", false)
    await expectError("ssh_tail", { job_id: "job-doesnotexist" }, "JOB_NOT_FOUND", false)
    const target = { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box" }
    const unknown = await expectError("ssh_connect", target, "HOST_KEY_UNKNOWN", true)
    expect(unknown.text).toMatch(/SHA256:/)

    const ok = await call(server, "ssh_connect", { ...target, insecure_auto_add: true })
    expect(ok.isError, ok.text).toBe(false)
    const remote = `/tmp/mcpssh-clients-${process.pid}-${m.client}-${m.transport}`
    await sshd.exec(`echo existing > ${remote} && chown ${sshd.user.name} ${remote}`)
    const local = path.join(server.home, "upload.txt")
    fs.writeFileSync(local, "new\n")
    await expectError("ssh_upload", { local_path: local, remote_path: remote, overwrite: false }, "SFTP_FAILED", false)
    expect((await sshd.exec(`cat ${remote}`)).stdout).toBe("existing\n")
    await expectError("ssh_spawn", { command: "true", persistent: true, pty: true }, "INVALID_ARGUMENT", false)

    // And a success still carries structuredContent that every client accepted.
    const exec = await call(server, "ssh_exec", { command: "echo fine" })
    expect(exec.isError, exec.text).toBe(false)
    expect(exec.data.stdout).toBe("fine\n")
    expect(server.transportErrors).toEqual([])
  })
})
