/**
 * A long build as an MCP task, end to end (one cell, HTTP, with ext-tasks' requester): it
 * outlives a client's 60 s request timeout and exec's hand-over time, prints thousands of
 * lines in bursts over many poll intervals, and comes back as the call's own result at the
 * end, while the requester polls `tasks/get` and sees the newest line in `statusMessage`.
 * No line is lost: the task id is the job's, and `ssh_tail` following it while it runs gets
 * every line the build printed, in order, once (more lines than the ring buffer holds, in
 * the 5-minute build); the result holds them too where its cap allows.
 *
 * 90 s by default (TASKS_BUILD_SEC): long enough for every property above (> 60 s, across
 * the step of the poll interval at 30 s); TASKS_BUILD_SEC=300 runs the 5-minute build.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { boxArgs, describeWithSshd } from "../support/sshd.js"
import { startTasksClient, type TasksClient } from "../support/tasks.js"

const SECONDS = Number(process.env.TASKS_BUILD_SEC ?? 90)
const PER_SECOND = 60
const TOTAL = SECONDS * PER_SECOND

describeWithSshd("a long build as an MCP task (http)", (getSshd) => {
  let c: TasksClient

  beforeAll(async () => {
    c = await startTasksClient({ transport: "http", args: [...boxArgs(getSshd()), "--default-host", "box"] })
  })
  afterAll(async () => {
    await c?.close()
  })

  it(`runs a ${SECONDS} s build as a task: polled, newest line in statusMessage, the call's result at the end, no line lost`, async () => {
    const command = `for s in $(seq 1 ${SECONDS}); do for f in $(seq 1 ${PER_SECOND}); do echo "[$s/${SECONDS}] CC src/unit_$f.c"; done; ` +
      `echo "warning: step $s" >&2; sleep 1; done; echo "BUILD OK"`
    const execution = await c.session.callTool("ssh_exec", { command })
    expect(execution.kind).toBe("task")
    if (execution.kind !== "task") return
    const taskId = execution.handle.taskId
    const polls: Array<{ status: string; message: string | undefined; bytes: number }> = []
    const settling = execution.settle({
      onEvent: async (e) => {
        if (e.type !== "task") return
        const bytes = JSON.stringify(e.task.raw).length
        polls.push({ status: e.task.status, message: e.task.statusMessage, bytes })
      }
    })

    // Meanwhile, follow the job the task is, as an agent or the live view would: every line,
    // once, in order, whatever the ring buffer has evicted since (per-line form where ssh_tail
    // has a choice of format).
    const { tools } = await c.client.listTools()
    const format = tools.find((t) => t.name === "ssh_tail")?.inputSchema.properties?.format !== undefined ? { format: "lines" } : {}
    const stdout: Array<string> = []
    let stderr = 0
    let cursor = 0
    for (let i = 0; i < 10_000; i++) {
      const tail = await c.session.callTool("ssh_tail", { job_id: taskId, since_line_no: cursor, wait_ms: 5000, max_lines: 10_000, max_bytes: 1_048_576, ...format })
      const { outcome: t } = await tail.settle()
      if (t.status !== "completed") throw new Error("ssh_tail failed")
      const data = (t.result as { structuredContent: Record<string, unknown> }).structuredContent
      const lines = data.lines as Array<{ n: number; stream: string; text: string }> | undefined
      if (lines === undefined) throw new Error(`ssh_tail without lines: ${JSON.stringify(data).slice(0, 200)}`)
      expect(data.dropped).toBe(0)
      for (const line of lines) {
        expect(line.n).toBe(++cursor)
        if (line.stream === "stdout") stdout.push(line.text)
        else stderr++
      }
      if (data.status !== "running" && data.more === false) break
    }

    const { outcome } = await settling
    expect(outcome.status).toBe("completed")
    if (outcome.status !== "completed") return
    const result = outcome.result as { structuredContent: Record<string, unknown> }
    expect(result.structuredContent).toMatchObject({ status: "exited", exit_status: 0, job_id: taskId })

    // Polled all along, each poll showing the newest line, in a few hundred bytes.
    const working = polls.filter((p) => p.status === "working")
    expect(working.length).toBeGreaterThan(SECONDS / 5)
    expect(working.filter((p) => /^\[\d+\/\d+\] CC src\/unit_\d+\.c$|^warning: step \d+$/.test(p.message ?? "")).length)
      .toBeGreaterThan(working.length / 2)
    expect(Math.max(...working.map((p) => p.bytes))).toBeLessThan(500)
    process.stderr.write(`[tasks-build] ${working.length} polls while working, tasks/get ${Math.min(...working.map((p) => p.bytes))}–${Math.max(...working.map((p) => p.bytes))} bytes\n`)

    const expected = Array.from({ length: SECONDS }, (_, s) => Array.from({ length: PER_SECOND }, (_, f) => `[${s + 1}/${SECONDS}] CC src/unit_${f + 1}.c`)).flat()
    expect(stdout).toEqual([...expected, "BUILD OK"])
    expect(stderr).toBe(SECONDS)
    // The result holds the output too, whole or with its middle cut and said so.
    const out = String(result.structuredContent.stdout)
    if (result.structuredContent.truncated === true) expect(out).toMatch(/… \d+ bytes omitted/)
    else expect(out).toBe(`${[...expected, "BUILD OK"].join("\n")}\n`)
    expect(TOTAL).toBe(expected.length)
  }, (SECONDS + 120) * 1000)
})
