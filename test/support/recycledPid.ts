/**
 * A job's PID handed to another process (the job died without recording its exit, and the
 * system gave its PID away): shared by the persistent and tmux jobs' tests of that case.
 */
import { expect } from "vitest"
import { call, startMcpServer } from "./mcp.js"
import type { Sshd } from "./sshdServer.js"

/** Another process of the test user, leading its own group as a daemon does: `sleep seconds`. Its PID. */
export const startStranger = async (sshd: Sshd, seconds: number): Promise<string> => {
  const r = await sshd.exec(`su ${sshd.user.name} -c 'setsid sleep ${seconds} > /dev/null 2>&1 < /dev/null & echo $!'`)
  const pid = r.stdout.trim()
  expect(pid).toMatch(/^\d+$/)
  return pid
}

/**
 * A new server run (`args`) lists job `jobId`, whose PID is now `pid`'s (the stranger's),
 * as ended with `status`; `ssh_signal` is refused, `ssh_remove_job` (force) removes it,
 * and the stranger lives on (then it is ended).
 */
export const expectStrangerSpared = async (sshd: Sshd, args: ReadonlyArray<string>, jobId: string, pid: string, status: string) => {
  const server = await startMcpServer({ args })
  try {
    expect((await call(server, "ssh_exec", { command: "true" })).isError).toBe(false)
    const list = await call(server, "ssh_list_jobs", {})
    const found = (list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId)
    expect(found).toMatchObject({ status, exit_status: null })
    const signalled = await call(server, "ssh_signal", { job_id: jobId, signal: "TERM" })
    expect(signalled.isError, signalled.text).toBe(true)
    expect((await call(server, "ssh_remove_job", { job_id: jobId, force: true })).isError).toBe(false)
    expect((await sshd.exec(`kill -0 ${pid} && echo alive`)).stdout.trim()).toBe("alive")
  } finally {
    await server.close()
    await sshd.exec(`kill ${pid}`)
  }
}
