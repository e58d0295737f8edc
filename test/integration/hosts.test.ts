/**
 * `Hosts` as a library user calls it, against a real sshd: connect from `~/.ssh/config`,
 * the registry put back when a connection fails, the unknown-host-key callback, `replace`
 * keeping a connection whose settings did not change, and disconnect stopping the host's
 * jobs first. What ssh_connect / ssh_disconnect /
 * ssh_list_hosts do, without MCP.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { expect, it } from "vitest"
import { HostRegistry, Hosts, Jobs, layerConfig, type UnknownHostKey } from "../../src/index.js"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"

/** An ssh config naming the test sshd `box`, as a user's ~/.ssh/config would. */
const sshConfigFor = (sshd: Sshd): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-hosts-"))
  const file = path.join(dir, "config")
  fs.writeFileSync(file, `Host box\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User ${sshd.user.name}\n  IdentityFile ${sshd.clientKeyPath}\n`)
  return file
}

describeWithSshd("Hosts (library)", (getSshd) => {
  const run = <A, E>(program: Effect.Effect<A, E, Hosts | HostRegistry | Jobs>, knownHostsPath = getSshd().knownHostsPath) =>
    Effect.runPromise(program.pipe(Effect.provide(layerConfig({ knownHostsPath, sshConfigPath: sshConfigFor(getSshd()) }))))

  it("connects a Host of the ssh config and lists it", async () => {
    const sshd = getSshd()
    const r = await run(Effect.gen(function*() {
      const hosts = yield* Hosts
      const connected = yield* hosts.connect({ host: "box" })
      return { connected, list: yield* hosts.list }
    }))
    expect(r.connected).toMatchObject({ alias: "box", address: sshd.host, port: sshd.port, user: sshd.user.name, isDefault: true })
    expect(r.list).toEqual([expect.objectContaining({ alias: "box", connected: true, activeJobs: 0, isDefault: true, source: "ssh-config" })])
  })

  it("keeps the first host connected as the default when a second one connects", async () => {
    const sshd = getSshd()
    const r = await run(Effect.gen(function*() {
      const hosts = yield* Hosts
      const registry = yield* HostRegistry
      const first = yield* hosts.connect({ host: "box" })
      const second = yield* hosts.connect({ host: sshd.host, port: sshd.port, user: sshd.nopasswdUser.name, keyPath: sshd.clientKeyPath, alias: "other" })
      const resolved = (yield* registry.resolve(undefined)).alias
      const listed = (yield* hosts.list).map((h) => [h.alias, h.isDefault])
      yield* hosts.disconnect("box")
      // The first one gone, the only host left is the default.
      return { first: first.isDefault, second: second.isDefault, resolved, listed, after: yield* registry.defaultAlias }
    }))
    expect(r).toEqual({ first: true, second: false, resolved: "box", listed: [["box", true], ["other", false]], after: "other" })
  })

  it("leaves the registry as it was when the connection fails", async () => {
    const r = await run(Effect.gen(function*() {
      const hosts = yield* Hosts
      yield* hosts.connect({ host: "box" })
      // Nothing listens on port 1: refused.
      const failed = yield* Effect.exit(hosts.connect({ host: getSshd().host, alias: "nowhere", port: 1 }))
      return { failed, aliases: (yield* (yield* HostRegistry).list).map((h) => h.alias) }
    }))
    expect(Exit.isFailure(r.failed)).toBe(true)
    expect(JSON.stringify(r.failed)).toContain("ConnectError")
    expect(r.aliases).toEqual(["box"])
  })

  it("asks the caller's callback about an unknown host key", async () => {
    const asked: Array<UnknownHostKey> = []
    const r = await run(
      Effect.gen(function*() {
        const hosts = yield* Hosts
        const refused = yield* Effect.exit(hosts.connect({ host: "box", onUnknownHostKey: (key) => Effect.sync(() => (asked.push(key), "refuse" as const)) }))
        const trusted = yield* hosts.connect({ host: "box", onUnknownHostKey: () => Effect.succeed("session" as const) })
        return { refused, trusted }
      }),
      getSshd().emptyKnownHostsPath
    )
    expect(JSON.stringify(r.refused)).toContain("HostKeyUnknownError")
    expect(asked).toEqual([expect.objectContaining({ alias: "box", port: getSshd().port })])
    expect(r.trusted.alias).toBe("box")
  })

  it("keeps the connection and its jobs when replace: true brings the same settings, reconnects when they differ", async () => {
    const sshd = getSshd()
    const t = 700_000 + Math.floor(Math.random() * 99_999)
    // The same key under another path: other settings that still authenticate.
    const keyCopy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-hosts-key-")), "id")
    fs.copyFileSync(sshd.clientKeyPath, keyCopy)
    fs.chmodSync(keyCopy, 0o600)
    const settings = { host: sshd.host, alias: "live", port: sshd.port, user: sshd.user.name, keyPath: sshd.clientKeyPath }
    const r = await run(Effect.gen(function*() {
      const hosts = yield* Hosts
      const jobs = yield* Jobs
      const first = yield* hosts.connect(settings)
      const job = yield* jobs.spawn({ host: "live", command: `sleep ${t}` })
      const same = yield* hosts.connect({ ...settings, replace: true })
      // Let a dropped connection show in the job's status before it is read.
      yield* Effect.sleep("300 millis")
      const jobAfterSame = yield* jobs.get(job.jobId)
      const processAfterSame = yield* Effect.promise(() => sshd.exec(`pgrep -f -- "sleep ${t}" || true`))
      // Still reachable through the connection it was started on: stopping it works.
      const removed = yield* jobs.remove(job.jobId, { force: true })
      const processAfterRemove = yield* Effect.promise(() => waitNoProcess(sshd, `sleep ${t}`))
      const other = yield* hosts.connect({ ...settings, keyPath: keyCopy, replace: true })
      const list = yield* hosts.list
      return { first, same, jobAfterSame, processAfterSame, removed, processAfterRemove, other, list }
    }))
    expect(r.same.connectedAt).toEqual(r.first.connectedAt)
    expect(r.jobAfterSame.status).toBe("running")
    expect(r.processAfterSame.stdout.trim()).not.toBe("")
    expect(r.removed.termination).not.toBeNull()
    expect(r.processAfterRemove).toBe("")
    // Another key path is another connection.
    expect(r.other.connectedAt.getTime()).toBeGreaterThan(r.first.connectedAt.getTime())
    expect(r.list).toEqual([expect.objectContaining({ alias: "live", connected: true, keyPath: keyCopy })])
  })

  it("stops the host's running jobs, then disconnects and forgets it", async () => {
    const t = 700_000 + Math.floor(Math.random() * 99_999)
    const r = await run(Effect.gen(function*() {
      const hosts = yield* Hosts
      yield* hosts.connect({ host: "box" })
      const job = yield* (yield* Jobs).spawn({ host: "box", command: `sleep ${t}` })
      const running = (yield* hosts.list)[0]?.activeJobs
      const disconnected = yield* hosts.disconnect(undefined)
      return { job: job.jobId, running, disconnected, after: yield* hosts.list }
    }))
    expect(r.running).toBe(1)
    expect(r.disconnected).toEqual({ alias: "box", wasConnected: true, terminatedJobs: [{ jobId: r.job, termination: expect.any(String) }] })
    expect(r.after).toEqual([])
    expect(await waitNoProcess(getSshd(), `sleep ${t}`)).toBe("")
  })
})
