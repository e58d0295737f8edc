/**
 * Persistent jobs: they outlive a killed connection and a restart of this server, and
 * the lines read afterwards are complete, with no gap and no duplicate. Jobs found again
 * after they ended are listed as ended, and a PID the system gave to another process
 * since is never taken for the job's, nor signalled.
 */
import { expect, it } from "vitest"
import { call, startMcpServer, tailToEnd, type TailLine, tailLines } from "../support/mcp.js"
import { describeWithSshd, waitNoProcess, boxArgs } from "../support/sshd.js"
import { expectStrangerSpared, startStranger } from "../support/recycledPid.js"

describeWithSshd("persistent jobs", (getSshd) => {
  it("survive a killed connection and a server restart, losing and repeating no line", async () => {
    const sshd = getSshd()
    const args = ["--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name,
      "--key", sshd.clientKeyPath, "--reconnect-delay-sec", "0.2"]
    const N = 1000
    const first = await startMcpServer({ args })
    let jobId: string
    const seen: Array<TailLine> = []
    try {
      const s = await call(first, "ssh_spawn", {
        command: `i=0; while [ $i -lt ${N} ]; do i=$((i+1)); echo $i; sleep 0.01; done`,
        persistent: true,
        label: "counter"
      })
      expect(s.isError, s.text).toBe(false)
      expect(s.data).toMatchObject({ persistent: true, status: "running" })
      jobId = s.data.job_id as string
      let cursor = 0
      const read = async () => {
        const r = await call(first, "ssh_tail", { job_id: jobId, since_line_no: cursor, wait_ms: 3000, max_lines: 10_000 })
        expect(r.isError, r.text).toBe(false)
        seen.push(...tailLines(r.data))
        cursor = r.data.next_line_no as number
      }
      await read()
      // (a) the connection dies: the job goes on over there, the follower resumes at its offset.
      await sshd.killConnections()
      await new Promise((r) => setTimeout(r, 1500))
      await read()
      await read()
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.map((l) => Number(l.text))).toEqual(seen.map((_, i) => i + 1))
      // Still running over there (its command text is in no argv: look by the PID it recorded).
      const remote = await sshd.exec(`kill -0 "$(cat ~${sshd.user.name}/.cache/mcp-ssh-live/jobs/${jobId}/pid)" && echo alive`)
      expect(remote.stdout.trim()).toBe("alive")
    } finally {
      // (b) this server stops; a persistent job is not stopped with it.
      await first.close()
    }
    const second = await startMcpServer({ args })
    try {
      // Jobs of an earlier run are found on hosts this run is connected to.
      expect((await call(second, "ssh_exec", { command: "true" })).isError).toBe(false)
      const list = await call(second, "ssh_list_jobs", {})
      const found = (list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId)
      expect(found).toMatchObject({ persistent: true, label: "counter" })
      const { lines, last } = await tailToEnd(second, jobId!, 0, 5000)
      expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      expect(last).toMatchObject({ status: "exited", exit_status: 0 })
      const removed = await call(second, "ssh_remove_job", { job_id: jobId! })
      expect(removed.isError, removed.text).toBe(false)
      const dir = await sshd.exec(`ls ~${sshd.user.name}/.cache/mcp-ssh-live/jobs/`)
      expect(dir.stdout).not.toContain(jobId!)
    } finally {
      await second.close()
    }
  })

  it("can be signalled, and reports the exit code of a failing command", async () => {
    const sshd = getSshd()
    const server = await startMcpServer({
      args: boxArgs(sshd)
    })
    try {
      const t = 300_000 + Math.floor(Math.random() * 99_999)
      const s = await call(server, "ssh_spawn", { command: `sleep ${t}`, persistent: true })
      const sig = await call(server, "ssh_signal", { job_id: s.data.job_id, signal: "TERM" })
      expect(sig.data.sent_via_pid).toBe(true)
      expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
      const done = await tailToEnd(server, s.data.job_id as string)
      expect(done.last.status).toBe("killed")
      const f = await call(server, "ssh_spawn", { command: "echo out; echo err >&2; exit 7", persistent: true })
      const r = await tailToEnd(server, f.data.job_id as string)
      expect(r.last).toMatchObject({ status: "exited", exit_status: 7 })
      expect(r.lines.map((l) => `${l.stream}:${l.text}`).sort()).toEqual(["stderr:err", "stdout:out"])
      const stdin = await call(server, "ssh_send_stdin", { job_id: f.data.job_id, data: "x" })
      expect(stdin.data).toMatchObject({ error: { code: "INVALID_ARGUMENT" } })
      for (const id of [s.data.job_id, f.data.job_id]) {
        expect((await call(server, "ssh_remove_job", { job_id: id })).isError).toBe(false)
      }
    } finally {
      await server.close()
    }
  })

  it("found again after they ended, are listed as ended with their status and output from the first list", async () => {
    const sshd = getSshd()
    const first = await startMcpServer({ args: boxArgs(sshd) })
    const ids: Array<string> = []
    try {
      for (const i of [1, 2, 3]) {
        const s = await call(first, "ssh_spawn", { command: `echo done ${i}; exit ${i}`, persistent: true })
        ids.push(s.data.job_id as string)
        expect((await tailToEnd(first, s.data.job_id as string)).last).toMatchObject({ status: "exited", exit_status: i })
      }
    } finally {
      await first.close()
    }
    const second = await startMcpServer({ args: boxArgs(sshd) })
    try {
      expect((await call(second, "ssh_exec", { command: "true" })).isError).toBe(false)
      const list = await call(second, "ssh_list_jobs", {})
      const found = (list.data.jobs as Array<Record<string, unknown>>).filter((j) => ids.includes(j.job_id as string))
      expect(found.map((j) => [j.job_id, j.status, j.exit_status, (j.lines as { total: number }).total]).sort())
        .toEqual(ids.map((id, i) => [id, "exited", i + 1, 1]).sort())
      const running = await call(second, "ssh_list_jobs", { status: "running" })
      expect((running.data.jobs as Array<{ job_id: string }>).filter((j) => ids.includes(j.job_id))).toEqual([])
      for (const id of ids) expect((await call(second, "ssh_remove_job", { job_id: id })).isError).toBe(false)
    } finally {
      await second.close()
    }
  })

  it("whose process died unrecorded and whose PID went to another process: not running, that process never signalled", async () => {
    const sshd = getSshd()
    const home = `~${sshd.user.name}/.cache/mcp-ssh-live/jobs`
    const t = 400_000 + Math.floor(Math.random() * 99_999)
    const first = await startMcpServer({ args: boxArgs(sshd) })
    let jobId: string
    try {
      const s = await call(first, "ssh_spawn", { command: `sleep ${t}`, persistent: true })
      jobId = s.data.job_id as string
    } finally {
      await first.close()
    }
    // The job's processes die with no exit recorded (a reboot, the OOM killer); the system
    // gives its PID to another process of the same user, leading its own group (as a daemon does).
    await sshd.exec(`kill -s KILL -- -"$(cat ${home}/${jobId}/pid)"`)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const pid = await startStranger(sshd, t + 1)
    await sshd.exec(`echo ${pid} > ${home}/${jobId}/pid`)
    await expectStrangerSpared(sshd, boxArgs(sshd), jobId!, pid, "killed")
  })
})
