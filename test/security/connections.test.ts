/**
 * Bounded resources, connections and hosts half (issue 13, point 14): extra connections
 * opened past sshd's MaxSessions close once idle; the registry holds at most max_hosts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

/** Established TCP connections to sshd's port, counted on the sshd side. */
const established = async (sshd: Sshd) => {
  const r = await sshd.exec(`ss -Htn state established '( sport = :${sshd.port} )' | wc -l`)
  return Number(r.stdout.trim())
}

const waitFor = async (what: () => Promise<boolean>, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return true
    await new Promise((r) => setTimeout(r, 250))
  }
  return what()
}

describeWithSshd("extra connections past MaxSessions", (getSshd) => {
  let sshd: Sshd
  beforeAll(() => {
    sshd = getSshd()
  })

  it("close once they have had no channel for extra_connection_idle_sec", async () => {
    const server = await startMcpServer({
      args: ["--known-hosts", sshd.knownHostsPath, "--host", `box=${sshd.host}:${sshd.port}`, "--user", sshd.user.name,
        "--key", sshd.clientKeyPath, "--extra-connection-idle-sec", "2"]
    })
    try {
      const jobs: Array<string> = []
      for (let i = 0; i < 4; i++) {
        const s = await call(server, "ssh_spawn", { command: "sleep 2" })
        expect(s.isError, s.text).toBe(false)
        jobs.push(s.data.job_id as string)
      }
      // Four channels with MaxSessions 2: at least one more connection was opened.
      expect(await established(sshd)).toBeGreaterThanOrEqual(2)
      for (const id of jobs) await call(server, "ssh_tail", { job_id: id, wait_ms: 10_000, min_lines: 1000 })
      // Idle for 2 s, the extras close; the first connection stays.
      expect(await waitFor(async () => (await established(sshd)) === 1, 20_000)).toBe(true)
      // And the host still works, growing again when needed.
      const e = await call(server, "ssh_exec", { command: "echo still" })
      expect(e.data.stdout).toBe("still\n")
    } finally {
      await server.close()
    }
  })
}, { maxSessions: 2 })

describeWithSshd("the host registry is capped", (getSshd) => {
  let sshd: Sshd
  let server: McpServerProcess
  beforeAll(async () => {
    sshd = getSshd()
    const knownHosts = path.join(fs.mkdtempSync(path.join(sshd.dir, "kh-")), "known_hosts")
    fs.copyFileSync(sshd.knownHostsPath, knownHosts)
    server = await startMcpServer({ args: ["--known-hosts", knownHosts, "--max-hosts", "2"] })
  })
  const connect = (alias: string) =>
    call(server, "ssh_connect", { host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias })

  it("ssh_connect past max_hosts is LIMIT_REACHED; a known alias or a freed slot still works", async () => {
    try {
      expect((await connect("a")).isError).toBe(false)
      expect((await connect("b")).isError).toBe(false)
      const third = await connect("c")
      expect(third.data.error, third.text).toMatchObject({ code: "LIMIT_REACHED" })
      expect(third.text).toMatch(/max_hosts|max-hosts/)
      const hosts = await call(server, "ssh_list_hosts", {})
      expect((hosts.data.hosts as Array<{ alias: string }>).map((h) => h.alias).sort()).toEqual(["a", "b"])
      expect((await connect("a")).isError).toBe(false)
      expect((await call(server, "ssh_disconnect", { host: "b" })).isError).toBe(false)
      expect((await connect("c")).isError).toBe(false)
    } finally {
      await server.close()
    }
  })
})
