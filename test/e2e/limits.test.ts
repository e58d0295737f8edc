/**
 * Limits end to end: kill_grace_ms, which could not be set before, takes effect from its
 * flag and from the config file's [limits] section.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, it } from "vitest"
import { call, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

/**
 * Stop a job whose shell, on TERM, needs 2 s before it exits: with a grace shorter than
 * that it is KILLed, with the default (5 s) it ends on TERM.
 */
const stopSlowToExit = async (sshd: Sshd, args: ReadonlyArray<string>, home?: string) => {
  const server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, ...args], ...(home !== undefined ? { home } : {}) })
  try {
    const connected = await call(server, "ssh_connect", {
      host: sshd.host, port: sshd.port, user: sshd.user.name, key_path: sshd.clientKeyPath, alias: "box"
    })
    expect(connected.isError, connected.text).toBe(false)
    const spawned = await call(server, "ssh_spawn", { command: "trap 'sleep 2; exit 0' TERM; echo ready; sleep 600 & wait" })
    expect(spawned.isError, spawned.text).toBe(false)
    const jobId = spawned.data.job_id as string
    const ready = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 10_000, until: "ready" })
    expect(ready.isError, ready.text).toBe(false)
    const removed = await call(server, "ssh_remove_job", { job_id: jobId, force: true })
    expect(removed.isError, removed.text).toBe(false)
    return removed.data.terminated
  } finally {
    await server.close()
  }
}

describeWithSshd("limits from flags and the config file", (getSshd) => {
  it("ends a slow-to-exit job on TERM with the default grace", async () => {
    expect(await stopSlowToExit(getSshd(), [])).toBe("term")
  })

  it("KILLs it after --kill-grace-ms", async () => {
    expect(await stopSlowToExit(getSshd(), ["--kill-grace-ms", "300"])).toBe("kill")
  })

  it("KILLs it after [limits] kill_grace_ms", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-limits-"))
    const config = path.join(home, "config.toml")
    fs.writeFileSync(config, "[limits]\nkill_grace_ms = 300\n")
    expect(await stopSlowToExit(getSshd(), ["--config", config], home)).toBe("kill")
  })
})
