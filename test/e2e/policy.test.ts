/**
 * The opt-in policy end to end against a real sshd: refusals name the rule and nothing
 * reaches the host (a refused command's side-effect file never appears), per-host and
 * global rules combine, `confirm` asks the human by elicitation (each protocol revision),
 * stdin to a shell job is checked, uploads follow path rules, `ssh_list_hosts` shows the
 * rules, and without `[policy]` nothing changes.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, CLIENT_MATRIX, type ClientKind, MAIN, type McpServerProcess, parseErrorText, startMcpServer } from "../support/mcp.js"
import { removeHostTmp } from "../support/hostTmp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const CELLS = CLIENT_MATRIX.filter((m) => m.name === "stdio/v2" || m.name === "http/v1")
const token = () => `${process.pid}-${Math.floor(Math.random() * 1e9)}`

afterAll(() => removeHostTmp(new RegExp(`^pol-.+-${process.pid}-`)))

/** A config whose hosts all reach `sshd`; `policy` is appended as is. */
const writeConfig = (sshd: Sshd, policy: string): string => {
  const dir = fs.mkdtempSync(path.join(sshd.dir, "policy-"))
  const host = (alias: string) =>
    `[hosts.${alias}]\nhost = "${sshd.host}"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\nkey = "${sshd.clientKeyPath}"\n`
  const file = path.join(dir, "config.toml")
  fs.writeFileSync(file, ["web1", "ro", "strict", "plain", "grp1", "grp2"].map(host).join("\n") + "\n" + policy)
  return file
}

const POLICY = `
[policy]
deny = ["rm -rf"]
confirm = ["^touch /tmp/pol-confirm-"]
upload_deny = ["/tmp/pol-noupload"]

[hosts.web1.policy]
deny = ["pol-hostdeny"]

[hosts.ro.policy]
read_only = true

[hosts.strict.policy]
allow = ["touch /tmp/pol-ok-[0-9a-z-]+", "ls( [a-z/-]+)?"]
tunnels = false

[groups]
fleet = ["grp1", "grp2"]

[group_policy.fleet]
deny = ["pol-groupdeny"]
tunnels = false

[hosts.grp2.policy]
tunnels = true
`

const exists = async (sshd: Sshd, file: string) => (await sshd.exec(`test -e ${file}`)).code === 0

for (const m of CELLS) describeWithSshd(`policy over ${m.name} MCP`, (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      transport: m.transport,
      client: m.client,
      args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd, POLICY)]
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  const refused = async (tool: string, args: Record<string, unknown>, code: string, message: RegExp, file?: string) => {
    const r = await call(server, tool, args)
    expect(r.isError, r.text).toBe(true)
    const error = parseErrorText(r.text)
    expect(error).toMatchObject({ code })
    expect(error?.message).toMatch(message)
    if (file !== undefined) expect(await exists(sshd, file), `${file} must not exist`).toBe(false)
    return error
  }

  it("deny of [policy]: refused naming the rule, nothing run", async () => {
    const file = `/tmp/pol-deny-${token()}`
    const error = await refused("ssh_exec", { host: "web1", command: `touch ${file}; rm -rf /tmp/pol-nothing` }, "POLICY_DENIED",
      /host 'web1': deny rule "rm -rf" of \[policy\] matched/, file)
    expect(error?.hint).toBeTruthy()
    // ssh_spawn, persistent too.
    await refused("ssh_spawn", { host: "web1", command: `touch ${file} && rm -rf /tmp/pol-nothing` }, "POLICY_DENIED", /deny rule "rm -rf"/, file)
    await refused("ssh_spawn", { host: "web1", command: `touch ${file}; rm -rf /tmp/pol-nothing`, persistent: true }, "POLICY_DENIED", /rm -rf/, file)
    await refused("ssh_exec", { host: "web1", command: `touch ${file}; rm -rf /tmp/x`, background_after_ms: 100 }, "POLICY_DENIED", /rm -rf/, file)
  })

  it("a host's own deny applies to that host only; the global deny to all", async () => {
    const file = `/tmp/pol-hostdeny-${token()}`
    await refused("ssh_exec", { host: "web1", command: `touch ${file}` }, "POLICY_DENIED",
      /deny rule "pol-hostdeny" of \[hosts\.web1\.policy\] matched/, file)
    const ok = await call(server, "ssh_exec", { host: "plain", command: `touch ${file}` })
    expect(ok.isError, ok.text).toBe(false)
    expect(await exists(sshd, file)).toBe(true)
    await refused("ssh_exec", { host: "plain", command: "rm -rf /tmp/pol-nothing" }, "POLICY_DENIED", /of \[policy\]/)
  })

  it("allow: only commands matching a rule in full", async () => {
    const ok = `/tmp/pol-ok-${token()}`
    const r = await call(server, "ssh_exec", { host: "strict", command: `touch ${ok}` })
    expect(r.isError, r.text).toBe(false)
    expect(await exists(sshd, ok)).toBe(true)
    const no = `/tmp/pol-no-${token()}`
    await refused("ssh_exec", { host: "strict", command: `touch ${no}` }, "POLICY_DENIED", /allow list of \[hosts\.strict\.policy\]/, no)
    await refused("ssh_exec", { host: "strict", command: `touch ${ok}-x; touch ${no}` }, "POLICY_DENIED", /allow list/, no)
  })

  it("read_only: read-only commands run, anything else is refused before it runs", async () => {
    const r = await call(server, "ssh_exec", { host: "ro", command: "ls /tmp | head -3" })
    expect(r.isError, r.text).toBe(false)
    const file = `/tmp/pol-ro-${token()}`
    for (const command of [`ls; touch ${file}`, `ls $(touch ${file})`, `ls > ${file}`, `find /tmp -maxdepth 0 -fprint ${file}`, `touch ${file}`]) {
      await refused("ssh_exec", { host: "ro", command }, "POLICY_DENIED", /read_only of \[hosts\.ro\.policy\]/, file)
    }
    await refused("ssh_exec", { host: "ro", command: "ls", env: { LD_PRELOAD: "/tmp/x.so" } }, "POLICY_DENIED", /no env/)
    const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pol-up-")), "f.txt")
    fs.writeFileSync(local, "x")
    await refused("ssh_upload", { host: "ro", local_path: local, remote_path: file }, "POLICY_DENIED", /read_only .*no uploads/, file)
  })

  it("confirm without an elicitation-capable client: CONFIRMATION_UNAVAILABLE, nothing run", async () => {
    const file = `/tmp/pol-confirm-${token()}`
    await refused("ssh_exec", { host: "plain", command: `touch ${file}` }, "CONFIRMATION_UNAVAILABLE",
      /confirm rule "\^touch \/tmp\/pol-confirm-" of \[policy\] matched/, file)
  })

  it("stdin to a shell job is checked line by line; stdin to another job is not", async () => {
    const shell = await call(server, "ssh_spawn", { host: "plain", command: "bash" })
    expect(shell.isError, shell.text).toBe(false)
    const jobId = shell.data.job_id as string
    const bad = `/tmp/pol-sh-${token()}`
    await refused("ssh_send_stdin", { job_id: jobId, data: `touch ${bad}\nrm -rf /tmp/pol-nothing\n` }, "POLICY_DENIED", /deny rule "rm -rf"/)
    await refused("ssh_send_stdin", { job_id: jobId, data: "rm -r" }, "POLICY_DENIED", /whole lines/)
    const good = `/tmp/pol-sh-ok-${token()}`
    const sent = await call(server, "ssh_send_stdin", { job_id: jobId, data: `touch ${good}\nexit\n` })
    expect(sent.isError, sent.text).toBe(false)
    await call(server, "ssh_tail", { job_id: jobId, wait_ms: 5000, min_lines: 1000 })
    expect(await exists(sshd, good)).toBe(true)
    expect(await exists(sshd, bad)).toBe(false)

    const out = `/tmp/pol-cat-${token()}`
    const cat = await call(server, "ssh_spawn", { host: "plain", command: `cat > ${out}` })
    expect(cat.isError, cat.text).toBe(false)
    const fed = await call(server, "ssh_send_stdin", { job_id: cat.data.job_id, data: "rm -rf /not-a-command\n", eof: true })
    expect(fed.isError, fed.text).toBe(false)
    await call(server, "ssh_tail", { job_id: cat.data.job_id, wait_ms: 5000, min_lines: 1000 })
    expect((await sshd.exec(`cat ${out}`)).stdout).toBe("rm -rf /not-a-command\n")
  })

  it("ssh_exec's stdin to a shell is checked as commands", async () => {
    const file = `/tmp/pol-exec-sh-${token()}`
    await refused("ssh_exec", { host: "plain", command: "bash -s", stdin: `touch ${file}\nrm -rf /tmp/pol-nothing\n` }, "POLICY_DENIED", /rm -rf/, file)
  })

  it("uploads follow the path rules", async () => {
    const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pol-up-")), "f.txt")
    fs.writeFileSync(local, "payload")
    const denied = `/tmp/pol-noupload/sub-${token()}`
    await refused("ssh_upload", { host: "plain", local_path: local, remote_path: denied }, "POLICY_DENIED",
      /upload_deny "\/tmp\/pol-noupload" of \[policy\]/, denied)
    await refused("ssh_upload", { host: "plain", local_path: local, remote_path: `/tmp/x/../pol-noupload/${token()}` }, "POLICY_DENIED", /upload_deny/)
    const ok = `/tmp/pol-up-${token()}`
    const r = await call(server, "ssh_upload", { host: "plain", local_path: local, remote_path: ok })
    expect(r.isError, r.text).toBe(false)
    expect(await exists(sshd, ok)).toBe(true)
  })

  it("a host the agent adds gets [policy], and the rules of the configured host at its address", async () => {
    const c = await call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "rt" })
    expect(c.isError, c.text).toBe(false)
    await refused("ssh_exec", { host: "rt", command: "rm -rf /tmp/pol-nothing" }, "POLICY_DENIED", /host 'rt': .*of \[policy\]/)
    const file = `/tmp/pol-hostdeny-rt-${token()}`
    await refused("ssh_exec", { host: "rt", command: `touch ${file}` }, "POLICY_DENIED", /of \[hosts\.web1\.policy\]/, file)
  })

  it("ssh_exec_many: each host's rules apply to it; a refused host is one failed result, the others run", async () => {
    const ok = `/tmp/pol-ok-many-${token()}`
    const r = await call(server, "ssh_exec_many", { hosts: ["plain", "web1", "strict", "ro"], command: `touch ${ok}-x pol-hostdeny` })
    expect(r.isError, r.text).toBe(false)
    const results = r.data.results as Array<{ host: string; exit_status: number | null; error: string | null }>
    expect(results.map((h) => h.host)).toEqual(["plain", "web1", "strict", "ro"])
    expect(results[0]!.exit_status).toBe(0)
    expect(parseErrorText(results[1]!.error!)).toMatchObject({ code: "POLICY_DENIED" })
    expect(results[1]!.error).toMatch(/deny rule "pol-hostdeny" of \[hosts\.web1\.policy\]/)
    expect(results[2]!.error).toMatch(/^POLICY_DENIED: .*allow list of \[hosts\.strict\.policy\]/)
    expect(results[3]!.error).toMatch(/^POLICY_DENIED: .*read_only of \[hosts\.ro\.policy\]/)
    expect(r.data).toMatchObject({ ok: 1, failed: 3 })
    // A confirm rule and a client that cannot ask: refused on that host only.
    const c = await call(server, "ssh_exec_many", { hosts: ["plain", "strict"], command: `touch /tmp/pol-confirm-${token()}` })
    expect((c.data.results as Array<{ error: string | null }>).map((h) => h.error?.split(":")[0] ?? null))
      .toEqual(["CONFIRMATION_UNAVAILABLE", "POLICY_DENIED"])
  })

  it("ssh_tunnel_open: refused where tunnels = false, allowed elsewhere", async () => {
    await refused("ssh_tunnel_open", { host: "strict", kind: "dynamic", bind_port: 0 }, "POLICY_DENIED", /tunnels = false of \[hosts\.strict\.policy\]/)
    const t = await call(server, "ssh_tunnel_open", { host: "plain", kind: "dynamic", bind_port: 0 })
    expect(t.isError, t.text).toBe(false)
    const closed = await call(server, "ssh_tunnel_close", { tunnel_id: t.data.tunnel_id })
    expect(closed.isError, closed.text).toBe(false)
  })

  it("[group_policy.*] applies to the group's hosts, between [policy] and the host's own table", async () => {
    const file = `/tmp/pol-groupdeny-${token()}`
    for (const host of ["grp1", "grp2"]) {
      await refused("ssh_exec", { host, command: `touch ${file}` }, "POLICY_DENIED", /deny rule "pol-groupdeny" of \[group_policy\.fleet\] matched/, file)
    }
    await refused("ssh_exec", { host: "grp1", command: "rm -rf /tmp/pol-nothing" }, "POLICY_DENIED", /of \[policy\]/)
    const many = await call(server, "ssh_exec_many", { group: "fleet", command: `touch ${file}` })
    expect((many.data.results as Array<{ error: string | null }>).every((r) => /group_policy\.fleet/.test(r.error ?? "")), many.text).toBe(true)
    expect(await exists(sshd, file)).toBe(false)
    // The host's own switch is the last word: grp2 may forward ports, grp1 may not.
    await refused("ssh_tunnel_open", { host: "grp1", kind: "dynamic", bind_port: 0 }, "POLICY_DENIED", /tunnels = false of \[group_policy\.fleet\]/)
    const t = await call(server, "ssh_tunnel_open", { host: "grp2", kind: "dynamic", bind_port: 0 })
    expect(t.isError, t.text).toBe(false)
    await call(server, "ssh_tunnel_close", { tunnel_id: t.data.tunnel_id })
    // Not a group plain is in.
    const ok = await call(server, "ssh_exec", { host: "plain", command: `echo pol-groupdeny` })
    expect(ok.isError, ok.text).toBe(false)
  })

  it("ssh_list_hosts shows each host's effective rules", async () => {
    const r = await call(server, "ssh_list_hosts", {})
    expect(r.isError, r.text).toBe(false)
    const byAlias = Object.fromEntries((r.data.hosts as Array<{ alias: string; policy: unknown }>).map((h) => [h.alias, h.policy]))
    expect(byAlias.web1).toEqual({ deny: ["rm -rf", "pol-hostdeny"], confirm: ["^touch /tmp/pol-confirm-"], upload_deny: ["/tmp/pol-noupload"] })
    expect(byAlias.ro).toMatchObject({ read_only: true, deny: ["rm -rf"] })
    expect(byAlias.strict).toMatchObject({ allow: ["touch /tmp/pol-ok-[0-9a-z-]+", "ls( [a-z/-]+)?"], tunnels: false })
    expect(byAlias.grp1).toEqual({ deny: ["rm -rf", "pol-groupdeny"], confirm: ["^touch /tmp/pol-confirm-"], upload_deny: ["/tmp/pol-noupload"], tunnels: false })
    expect(byAlias.grp2).toMatchObject({ deny: ["rm -rf", "pol-groupdeny"], tunnels: true })
    expect(byAlias.plain).toEqual({ deny: ["rm -rf"], confirm: ["^touch /tmp/pol-confirm-"], upload_deny: ["/tmp/pol-noupload"] })
  })
})

describeWithSshd("policy off by default", (getSshd) => {
  it("a config without [policy] changes nothing, and ssh_list_hosts shows policy: null", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd, "")] })
    try {
      const dir = `/tmp/pol-off-${token()}`
      const r = await call(server, "ssh_exec", { host: "web1", command: `mkdir ${dir} && rm -rf ${dir} && touch ${dir}-done; ls > /dev/null` })
      expect(r.isError, r.text).toBe(false)
      expect((await sshd.exec(`test -e ${dir}-done`)).code).toBe(0)
      const hosts = await call(server, "ssh_list_hosts", {})
      expect((hosts.data.hosts as Array<{ policy: unknown }>).map((h) => h.policy)).toEqual([null, null, null, null, null, null])
    } finally {
      await server.close()
    }
  })
})

const KINDS: ReadonlyArray<ClientKind> = ["v2", "v1", "modern"]

for (const kind of KINDS) describeWithSshd(`policy confirm by elicitation (${kind})`, (getSshd) => {
  const withAnswer = async (answer: "run" | "refuse" | "decline") => {
    const sshd = getSshd()
    const server = await startMcpServer({
      client: kind,
      args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd, POLICY)],
      capabilities: { elicitation: { form: {} } }
    })
    const asked: Array<string> = []
    server.client.setRequestHandler("elicitation/create", async (request) => {
      asked.push((request.params as { message: string }).message)
      return answer === "decline" ? { action: "decline" } : { action: "accept", content: { decision: answer } }
    })
    return { sshd, server, asked }
  }

  it("accepted: runs once, after the user saw the command", async () => {
    const { sshd, server, asked } = await withAnswer("run")
    try {
      const file = `/tmp/pol-confirm-yes-${token()}`
      const command = `touch ${file}; echo made >> ${file}; echo made`
      const r = await call(server, "ssh_exec", { host: "plain", command })
      expect(r.isError, r.text).toBe(false)
      expect(r.data.stdout).toBe("made\n")
      expect(asked).toHaveLength(1)
      expect(asked[0]).toContain(JSON.stringify(command))
      // Once: a 2026-07-28 call runs the handler again with the answer; the first round ran nothing.
      expect((await sshd.exec(`cat ${file}`)).stdout).toBe("made\n")
      expect(asked[0]).toContain("\"plain\"")
      expect(await exists(sshd, file)).toBe(true)
    } finally {
      await server.close()
    }
  })

  for (const answer of ["refuse", "decline"] as const) {
    it(`${answer}: POLICY_DENIED, nothing run`, async () => {
      const { sshd, server, asked } = await withAnswer(answer)
      try {
        const file = `/tmp/pol-confirm-no-${token()}`
        const r = await call(server, "ssh_exec", { host: "plain", command: `touch ${file}` })
        expect(parseErrorText(r.text)).toMatchObject({ code: "POLICY_DENIED", message: expect.stringMatching(/confirm rule .* and the user refused it/) })
        expect(asked).toHaveLength(1)
        expect(await exists(sshd, file)).toBe(false)
      } finally {
        await server.close()
      }
    })
  }

  it("a denied command is never put to the user", async () => {
    const { server, asked } = await withAnswer("run")
    try {
      const r = await call(server, "ssh_exec", { host: "plain", command: "touch /tmp/pol-confirm-x; rm -rf /tmp/pol-nothing" })
      expect(r.data.error).toMatchObject({ code: "POLICY_DENIED" })
      expect(asked).toHaveLength(0)
    } finally {
      await server.close()
    }
  })
})

describe("policy startup errors", () => {
  const runMain = (args: Array<string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-polerr-"))
      execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", HOME: home } }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? null, stdout, stderr })
      })
    })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-polbad-"))
  const cases: ReadonlyArray<[string, string, RegExp]> = [
    ["an invalid regex in [policy]", "[policy]\ndeny = [\"ok\", \"(unclosed\"]\n", /policy\.deny\[1\]: "\(unclosed" is not a regular expression/],
    ["lookahead in a host's confirm", "[hosts.a]\nhost = \"127.0.0.1\"\n[hosts.a.policy]\nconfirm = [\"(?=x)\"]\n", /hosts\.a\.policy\.confirm\[0\]/],
    ["an unknown policy key", "[policy]\nreadonly = true\n", /policy\.readonly/],
    ["a wrong type", "[policy]\nread_only = \"yes\"\n", /policy\.read_only/],
    ["a group policy for no group", "[group_policy.web]\ndeny = [\"x\"]\n", /group_policy\.web: no group "web" in \[groups\]/],
    ["an invalid regex in a group policy", "[hosts.a]\nhost = \"127.0.0.1\"\n[groups]\nweb = [\"a\"]\n[group_policy.web]\nallow = [\"(x\"]\n", /group_policy\.web\.allow\[0\]/]
  ]
  for (const [what, text, pattern] of cases) {
    it(`fails on ${what}, naming the key`, async () => {
      const file = path.join(dir, `${what.replace(/\W+/g, "-")}.toml`)
      fs.writeFileSync(file, text)
      const r = await runMain(["--config", file])
      expect(r.code).toBe(2)
      expect(r.stdout).toBe("")
      expect(r.stderr).toMatch(pattern)
    })
  }
})
