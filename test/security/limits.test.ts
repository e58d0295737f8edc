/**
 * Limits an agent cannot get around (issue 13, points 6, 7 and the jobs half of 14):
 * `max_jobs_per_host` on exec hand-overs, the global cap on jobs in memory, and an
 * `until` regex that would backtrack for ever.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailLines } from "../support/mcp.js"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"

const token = () => 900_000 + Math.floor(Math.random() * 99_999)

const hostArgs = (sshd: Sshd) => [
  "--known-hosts", sshd.knownHostsPath,
  "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath, "--default-host", "box"
]

/** Jobs this file started (other files' persistent jobs of the same remote user show up in lists too). */
const mine = new Set<string>()
const track = <T extends { data: Record<string, unknown> }>(r: T): T => {
  if (typeof r.data.job_id === "string") mine.add(r.data.job_id)
  return r
}

const removeAll = async (server: McpServerProcess) => {
  for (const id of mine) await call(server, "ssh_remove_job", { job_id: id, force: true })
  mine.clear()
}

/**
 * A home of its own for the remote user: a list of jobs finds the persistent jobs the user's
 * other sessions run (other files' servers, at the same time), and those count under
 * max_jobs_per_host as they should.
 */
const HOME = `/tmp/mcp-ssh-live-limits-home-${process.pid}`

describeWithSshd("limits on every path", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    await sshd.exec(`rm -rf ${HOME} && mkdir -m 700 ${HOME} && chown ${sshd.user.name} ${HOME}`)
    server = await startMcpServer({ args: [...hostArgs(sshd), "--max-jobs-per-host", "3"] })
  })
  afterEach(async () => {
    await removeAll(server)
  })
  afterAll(async () => {
    await server?.close()
    await sshd.exec(`rm -rf ${HOME}`)
  })

  it("runs in a home of its own", async () => {
    expect((await call(server, "ssh_exec", { command: "echo $HOME" })).data).toMatchObject({ stdout: `${HOME}\n` })
  })

  it("holds max_jobs_per_host for exec hand-overs too", async () => {
    const t = token()
    const results = await Promise.all(Array.from({ length: 6 }, () =>
      call(server, "ssh_exec", { command: `sleep ${t}`, background_after_ms: 1000 }).then(track)))
    const handedOver = results.filter((r) => !r.isError && typeof r.data.job_id === "string")
    const refused = results.filter((r) => r.isError)
    expect(handedOver, results.map((r) => r.text).join("\n")).toHaveLength(3)
    expect(refused).toHaveLength(3)
    for (const r of refused) {
      expect(r.data.error).toMatchObject({ code: "LIMIT_REACHED" })
      expect((r.data.error as { message: string }).message).toMatch(/max_jobs_per_host is 3/)
    }
    const list = await call(server, "ssh_list_jobs", { status: "running" })
    const running = (list.data.jobs as Array<{ persistent: boolean }>).filter((j) => !j.persistent)
    expect(running, JSON.stringify(list.data)).toHaveLength(3)
    // The refused ones never started anything over there.
    expect((await sshd.exec(`pgrep -c -f "^sleep ${t}$" || true`)).stdout.trim()).toBe("3")
    const spawn = await call(server, "ssh_spawn", { command: "true" })
    expect(spawn.data.error).toMatchObject({ code: "LIMIT_REACHED" })
    // A plain exec is not a job: it still runs.
    const plain = await call(server, "ssh_exec", { command: "echo plain" })
    expect(plain.data).toMatchObject({ exit_status: 0, stdout: "plain\n" })
    await removeAll(server)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const again = await call(server, "ssh_exec", { command: "echo fine", background_after_ms: 1000 })
    expect(again.data).toMatchObject({ exit_status: 0, stdout: "fine\n" })
  })

  it("runs until in linear time: a catastrophic pattern does not stall other calls", async () => {
    const s = track(await call(server, "ssh_spawn", { command: `printf '%s!\\n' ${"a".repeat(30)}; sleep 30` }))
    const jobId = s.data.job_id as string
    const first = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 10_000 })
    expect(tailLines(first.data).map((l) => l.text)).toEqual([`${"a".repeat(30)}!`])

    const order: Array<string> = []
    const tail = call(server, "ssh_tail", { job_id: jobId, since_line_no: 0, until: "^(a+)+$", wait_ms: 5000 })
      .then((r) => {
        order.push("tail")
        return r
      })
    await new Promise((r) => setTimeout(r, 300))
    const list = await call(server, "ssh_list_jobs", {})
    order.push("list")
    const t = await tail
    expect(list.isError).toBe(false)
    expect(t.isError, t.text).toBe(false)
    expect(t.data.matched_line_no).toBeNull()
    // The other call was answered while the tail was still waiting: nothing blocked the server.
    expect(order).toEqual(["list", "tail"])
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  })

  it("refuses until syntax it cannot run in linear time, naming the field", async () => {
    const s = track(await call(server, "ssh_spawn", { command: "echo abc" }))
    for (const until of ["(?=a)", "(a)\\1", "(?<!b)c"]) {
      const r = await call(server, "ssh_tail", { job_id: s.data.job_id, until, wait_ms: 0 })
      expect(r.isError, `${until}: ${r.text}`).toBe(true)
      expect(r.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
      expect((r.data.error as { message: string }).message).toMatch(/^until: /)
    }
    const ok = await call(server, "ssh_tail", { job_id: s.data.job_id, until: "b(c|d)$", wait_ms: 5000 })
    expect(ok.data.matched_line_no).toBe(1)
    expect(tailLines(ok.data).at(-1)?.text).toBe("abc")
    await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
  })
}, { extraConfig: `SetEnv HOME=${HOME}` })

describeWithSshd("a global cap on jobs in memory", (getSshd) => {
  let server: McpServerProcess

  beforeAll(async () => {
    server = await startMcpServer({ args: [...hostArgs(getSshd()), "--max-jobs", "4"] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("counts running and finished jobs until they are removed, on every path", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 4; i++) {
      const s = track(await call(server, "ssh_spawn", { command: `echo ${i}`, ...(i === 3 ? { persistent: true } : {}) }))
      expect(s.isError, s.text).toBe(false)
      ids.push(s.data.job_id as string)
    }
    const refused = await call(server, "ssh_spawn", { command: "true" })
    expect(refused.data.error).toMatchObject({ code: "LIMIT_REACHED" })
    expect((refused.data.error as { message: string }).message).toMatch(/max_jobs is 4/)
    const persistent = await call(server, "ssh_spawn", { command: "true", persistent: true })
    expect(persistent.data.error).toMatchObject({ code: "LIMIT_REACHED" })
    const handOver = await call(server, "ssh_exec", { command: "sleep 5", background_after_ms: 100 })
    expect(handOver.data.error).toMatchObject({ code: "LIMIT_REACHED" })
    expect((await call(server, "ssh_exec", { command: "echo plain" })).data).toMatchObject({ stdout: "plain\n" })
    await call(server, "ssh_remove_job", { job_id: ids[0], force: true })
    const now = track(await call(server, "ssh_spawn", { command: "true" }))
    expect(now.isError, now.text).toBe(false)
    await removeAll(server)
  })
})
