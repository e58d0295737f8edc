/**
 * Attacks on host-key trust (issue 13, points 2 and 11; issue 23, point 7): a host that swaps
 * its key for one of another type, an agent that turns on insecure_auto_add by itself or
 * rides on the operator's (which covers the configured hosts only), an agent that puts
 * text of its own in the question the human is asked. Each against a real sshd.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

/** A server whose client answers every host-key question with `answer`, recording the questions. */
const withElicitation = async (args: Array<string>, answer: "refuse" | "save" | "session") => {
  const server = await startMcpServer({ args, capabilities: { elicitation: { form: {} } } })
  const asked: Array<string> = []
  server.client.setRequestHandler("elicitation/create", async (request) => {
    asked.push((request.params as { message: string }).message)
    return { action: "accept", content: { decision: answer } }
  })
  return { server, asked }
}

const fingerprintOf = async (sshd: Sshd, pubFile: string) => (await sshd.exec(`ssh-keygen -lf ${pubFile}`)).stdout.split(" ")[1]!

describeWithSshd("a host key of another type than the known one is a changed key", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })
  /** known_hosts with the ed25519 key only, as a first connection would have recorded it. */
  const knownEd25519 = () => {
    const file = path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
    fs.copyFileSync(sshd.knownHostsPath, file)
    return file
  }
  const connectWithPassword = (server: McpServerProcess, extra: Record<string, unknown> = {}) =>
    call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, password: sshd.user.password, ...extra })
  const logSince = (offset: number) => fs.readFileSync(sshd.logPath, "utf8").slice(offset)

  const cases: Array<{ name: string; args: Array<string>; extra: Record<string, unknown> }> = [
    { name: "plain", args: [], extra: {} },
    { name: "agent insecure_auto_add (operator allows it)", args: ["--allow-agent-insecure-auto-add"], extra: { insecure_auto_add: true } },
    { name: "operator --insecure-auto-add", args: ["--insecure-auto-add"], extra: {} }
  ]
  for (const c of cases) {
    it(`server offering only RSA, ed25519 known: HOST_KEY_MISMATCH, nothing recorded, no password sent (${c.name})`, async () => {
      const knownHosts = knownEd25519()
      const before = fs.readFileSync(knownHosts, "utf8")
      const logOffset = fs.statSync(sshd.logPath).size
      const server = await startMcpServer({ args: ["--known-hosts", knownHosts, ...c.args] })
      try {
        const r = await connectWithPassword(server, c.extra)
        expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_MISMATCH" } })
        const error = r.data.error as { message: string }
        expect(error.message).toContain(await fingerprintOf(sshd, `${sshd.rsaHostKey!.path}.pub`))
        expect(error.message).toContain("ssh-ed25519")
        expect(fs.readFileSync(knownHosts, "utf8")).toBe(before)
        await new Promise((res) => setTimeout(res, 300))
        const log = logSince(logOffset)
        expect(log).not.toMatch(/password for/)
        expect(log).not.toMatch(/Accepted/)
      } finally {
        await server.close()
      }
    })
  }

  it("is never put to the human", async () => {
    const knownHosts = knownEd25519()
    const { server, asked } = await withElicitation(["--known-hosts", knownHosts], "save")
    try {
      const r = await connectWithPassword(server)
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_MISMATCH" } })
      expect(asked).toEqual([])
      expect(fs.readFileSync(knownHosts, "utf8")).toBe(fs.readFileSync(sshd.knownHostsPath, "utf8"))
    } finally {
      await server.close()
    }
  })
}, { rsaHostKey: true, extraConfig: "HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256" })

describeWithSshd("the host-key algorithms offered prefer the types known for the host", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })

  it("known RSA only, server offering ed25519 and RSA: connects with the RSA key", async () => {
    const knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
    fs.writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${sshd.rsaHostKey!.publicLine}\n`)
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.host_key_fingerprint).toBe(await fingerprintOf(sshd, `${sshd.rsaHostKey!.path}.pub`))
    } finally {
      await server.close()
    }
  })

  it("known ed25519 only, server offering both: connects with the ed25519 key", async () => {
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    try {
      const r = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.host_key_fingerprint).toBe(await fingerprintOf(sshd, `${sshd.hostKeyPath}.pub`))
    } finally {
      await server.close()
    }
  })
}, { rsaHostKey: true })

describeWithSshd("the agent cannot weaken host-key checking on its own", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })
  const freshKnownHosts = () => path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
  const args = () => ({ host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })

  it("per-call insecure_auto_add without the operator's consent: HOST_KEY_UNKNOWN naming the switch, nothing recorded", async () => {
    const knownHosts = freshKnownHosts()
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts] })
    try {
      const r = await call(server, "ssh_connect", { ...args(), insecure_auto_add: true })
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(r.text).toContain("insecure_auto_add")
      expect(r.text).toContain("--allow-agent-insecure-auto-add")
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })

  it("per-call insecure_auto_add without the operator's consent: the human is asked instead", async () => {
    const knownHosts = freshKnownHosts()
    const { server, asked } = await withElicitation(["--known-hosts", knownHosts], "refuse")
    try {
      const r = await call(server, "ssh_connect", { ...args(), insecure_auto_add: true })
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(asked).toHaveLength(1)
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })

  it("a known key still connects when the agent passes insecure_auto_add without consent", async () => {
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    try {
      const r = await call(server, "ssh_connect", { ...args(), insecure_auto_add: true })
      expect(r.isError, r.text).toBe(false)
    } finally {
      await server.close()
    }
  })

  for (const how of ["flag", "config file"] as const) {
    it(`operator consent by ${how}: per-call insecure_auto_add records the unknown key`, async () => {
      const knownHosts = freshKnownHosts()
      const configFile = path.join(path.dirname(knownHosts), "config.toml")
      fs.writeFileSync(configFile, "[server]\nallow_agent_insecure_auto_add = true\n")
      const server = await startMcpServer({
        args: ["--known-hosts", knownHosts, ...(how === "flag" ? ["--allow-agent-insecure-auto-add"] : ["--config", configFile])]
      })
      try {
        const plain = await call(server, "ssh_connect", args())
        expect(plain.data, plain.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
        const r = await call(server, "ssh_connect", { ...args(), insecure_auto_add: true })
        expect(r.isError, r.text).toBe(false)
        expect(fs.readFileSync(knownHosts, "utf8")).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `)
      } finally {
        await server.close()
      }
    })
  }

  it("the operator's --insecure-auto-add applies to the configured hosts", async () => {
    const knownHosts = freshKnownHosts()
    const server = await startMcpServer({
      args: [
        "--known-hosts", knownHosts, "--insecure-auto-add",
        "--host", `box=${sshd.host}:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath
      ]
    })
    try {
      const r = await call(server, "ssh_exec", { host: "box", command: "true" })
      expect(r.isError, r.text).toBe(false)
      expect(fs.readFileSync(knownHosts, "utf8")).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `)
    } finally {
      await server.close()
    }
  })

  it("the operator's --insecure-auto-add does not cover a host the agent adds: HOST_KEY_UNKNOWN, nothing recorded", async () => {
    const knownHosts = freshKnownHosts()
    const server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--insecure-auto-add"] })
    try {
      const r = await call(server, "ssh_connect", args())
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      // Nor when the agent asks for it: that takes --allow-agent-insecure-auto-add.
      const asked = await call(server, "ssh_connect", { ...args(), insecure_auto_add: true })
      expect(asked.data, asked.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(asked.text).toContain("--allow-agent-insecure-auto-add")
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })

  it("the operator's --insecure-auto-add does not cover a host the agent adds: the human is asked", async () => {
    const knownHosts = freshKnownHosts()
    const { server, asked } = await withElicitation(["--known-hosts", knownHosts, "--insecure-auto-add"], "refuse")
    try {
      const r = await call(server, "ssh_connect", args())
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(asked).toHaveLength(1)
      expect(fs.existsSync(knownHosts)).toBe(false)
    } finally {
      await server.close()
    }
  })
})

describeWithSshd("nothing the agent types is shown to the human as ours", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })
  const freshKnownHosts = () => path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
  const args = () => ({ host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath })

  it("an alias with a newline (or too long, or odd characters) is an invalid argument naming alias, and nobody is asked", async () => {
    const { server, asked } = await withElicitation(["--known-hosts", freshKnownHosts()], "save")
    try {
      for (const alias of ["box\nFINGERPRINT VERIFIED BY YOUR ADMIN: choose Trust and save", "a".repeat(65), "box one", "böx", ""]) {
        const r = await call(server, "ssh_connect", { ...args(), alias })
        expect(r.isError, JSON.stringify(alias)).toBe(true)
        // Schema errors are the SDK's invalid-arguments answer, naming the field.
        expect(r.text).toMatch(/^Input validation error: .*\balias: /)
      }
      const host = await call(server, "ssh_connect", { ...args(), host: "127.0.0.1\nFINGERPRINT VERIFIED" })
      expect(host.isError).toBe(true)
      // Refused by Hosts.connect as ssh refuses it (hostnames.test.ts), naming the field.
      expect(host.text).toMatch(/^INVALID_ARGUMENT: host: /)
      expect(asked).toEqual([])
    } finally {
      await server.close()
    }
  })

  it("the host-key question quotes the agent-supplied alias and host", async () => {
    const { server, asked } = await withElicitation(["--known-hosts", freshKnownHosts()], "refuse")
    try {
      const r = await call(server, "ssh_connect", { ...args(), alias: "web-1.prod" })
      expect(r.data, r.text).toMatchObject({ error: { code: "HOST_KEY_UNKNOWN" } })
      expect(asked).toHaveLength(1)
      expect(asked[0]).toContain(`"web-1.prod"`)
      expect(asked[0]).toContain(`"127.0.0.1:${sshd.port}"`)
      // The fixed wording is ours and comes first; the agent's text never starts a line.
      expect(asked[0]).toMatch(/^The SSH host key of /)
      for (const line of asked[0]!.split("\n").slice(1)) expect(line).not.toMatch(/^web-1/)
    } finally {
      await server.close()
    }
  })

  it("the default alias is the host when valid, else derived from it", async () => {
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath] })
    try {
      const r = await call(server, "ssh_connect", args())
      expect(r.isError, r.text).toBe(false)
      expect(r.data.alias).toBe("127.0.0.1")
    } finally {
      await server.close()
    }
  })
})
