/**
 * MCP Tasks (2026-07-28 extension `io.modelcontextprotocol/tasks`) end to end, against a
 * real sshd, driven by a requester that is not ours: `@modelcontextprotocol/ext-tasks`'
 * client session over stdio and HTTP (test/support/tasks.ts). A long call becomes a task
 * (an exec's id is its job's), is polled, cancelled (TERM → grace → KILL), asks a policy
 * confirm through `input_required` + `tasks/update`, and is found from another HTTP
 * session; clients without the extension (2026-07-28 without it, SDK 1.x) see no change.
 * The long build is in tasks-build.test.ts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core"
import type { SerializedTaskReference, TaskExecutionEvent, ToolExecution } from "@modelcontextprotocol/ext-tasks/client"
import { call, CLIENT_MATRIX, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { removeHostTmp } from "../support/hostTmp.js"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"
import { startTasksClient, type TasksClient } from "../support/tasks.js"

const token = () => `${900_000 + Math.floor(Math.random() * 99_999)}`

afterAll(() => removeHostTmp(new RegExp(`^task-confirm-${process.pid}-`)))
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Two aliases on the harness's sshd, and a confirm rule. */
const writeConfig = (sshd: Sshd): string => {
  const dir = fs.mkdtempSync(path.join(sshd.dir, "tasks-"))
  const host = (alias: string) =>
    `[hosts.${alias}]\nhost = "${sshd.host}"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\nkey = "${sshd.clientKeyPath}"\n`
  const file = path.join(dir, "config.toml")
  fs.writeFileSync(file, `default_host = "box"\n${host("box")}\n${host("box2")}\n[policy]\nconfirm = ["^touch /tmp/task-confirm-"]\n`)
  return file
}

/** A call's structured result, once it has settled as completed. */
const settled = async (execution: ToolExecution<unknown>, onEvent?: (e: TaskExecutionEvent<unknown>) => void) => {
  const { outcome } = await execution.settle(onEvent === undefined ? {} : { onEvent })
  if (outcome.status !== "completed") throw new Error(`the call ended ${outcome.status}`)
  const result = outcome.result as { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown> }
  return { isError: result.isError === true, data: result.structuredContent ?? {}, text: result.content.map((c) => c.text ?? "").join("\n") }
}

/** A tool call through the session that must answer at once (ssh_tail, ssh_list_jobs …). */
const now = async (c: TasksClient, name: string, args: Record<string, JsonValue>) => {
  const execution = await c.session.callTool(name, args)
  expect(execution.kind).toBe("immediate")
  return settled(execution)
}

const taskGet = async (c: TasksClient, taskId: string) => {
  const r = await c.raw("tasks/get", { taskId })
  if (r.kind !== "result" || !isRecord(r.result)) throw new Error(`tasks/get ${taskId}: ${JSON.stringify(r)}`)
  return r.result
}

for (const transport of ["stdio", "http"] as const) describeWithSshd(`MCP Tasks over ${transport}`, (getSshd) => {
  let sshd: Sshd
  let c: TasksClient
  /** A second server whose calls become tasks at once, and whose finished tasks expire after 1 s. */
  let quick: TasksClient
  let decision: "run" | "refuse" = "refuse"
  const asked: Array<string> = []

  beforeAll(async () => {
    sshd = getSshd()
    const args = ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd), "--kill-grace-ms", "1000"]
    c = await startTasksClient({
      transport,
      args: [...args, "--task-after-ms", "1500"],
      onElicit: async (params) => {
        const message = String(params.message)
        asked.push(message)
        // The host-key question has its own choices; trust for this session only.
        return { action: "accept", content: { decision: message.includes("SSH host key") ? "session" : decision } }
      }
    })
    quick = await startTasksClient({ transport, args: [...args, "--task-after-ms", "0", "--reap-finished-after-sec", "1"] })
  })
  afterAll(async () => {
    await c?.close()
    await quick?.close()
  })

  it("offers the extension in server/discover", () => {
    expect(c.client.getProtocolEra()).toBe("modern")
    expect(c.client.getServerCapabilities()?.extensions).toMatchObject({ "io.modelcontextprotocol/tasks": {} })
    expect(c.session.capabilities).toMatchObject({ execution: true, cancellation: true, inputResponses: true })
  })

  it("answers a call shorter than the threshold as today, with no task", async () => {
    const execution = await c.session.callTool("ssh_exec", { command: "echo quick" })
    expect(execution.kind).toBe("immediate")
    const r = await settled(execution)
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, stdout: "quick\n", job_id: null })
  })

  it("makes a long exec a task whose id is its job's: ssh_tail, ssh_list_jobs and ssh_signal reach it; the end is the call's result", async () => {
    const execution = await c.session.callTool("ssh_exec", { command: "for i in $(seq 1 40); do echo step $i; sleep 0.1; done; echo fin" })
    expect(execution.kind).toBe("task")
    if (execution.kind !== "task") return
    const taskId = execution.handle.taskId
    expect(taskId).toMatch(/^job-[0-9a-f]{16}$/)
    const listed = await now(c, "ssh_list_jobs", {})
    expect((listed.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === taskId)).toMatchObject({ status: "running", host: "box" })
    const tail = await now(c, "ssh_tail", { job_id: taskId, wait_ms: 1000 })
    expect(tail.isError, tail.text).toBe(false)
    const messages: Array<string> = []
    const r = await settled(execution, (e) => {
      if (e.type === "task" && e.task.statusMessage !== undefined) messages.push(e.task.statusMessage)
    })
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, job_id: taskId, timed_out: false })
    expect(r.data.stdout).toBe([...Array.from({ length: 40 }, (_, i) => `step ${i + 1}`), "fin", ""].join("\n"))
    expect(messages.some((m) => /^step \d+$|^fin$/.test(m))).toBe(true)

    const second = await c.session.callTool("ssh_exec", { command: `echo go; sleep ${token()}` })
    if (second.kind !== "task") throw new Error("expected a task")
    const signalled = await now(c, "ssh_signal", { job_id: second.handle.taskId, signal: "INT" })
    expect(signalled.isError, signalled.text).toBe(false)
    // ssh_signal is not tasks/cancel: the task completes with what the call saw, a killed job.
    const killed = await settled(second)
    expect(killed.data).toMatchObject({ status: "killed", signal: "INT", job_id: second.handle.taskId })
  })

  it("cancels a task: TERM, grace, KILL of the job's process group; nothing is left; the task is cancelled", async () => {
    const t = token()
    const execution = await c.session.callTool("ssh_exec", { command: `trap '' TERM; echo stubborn; sleep ${t}; echo never` })
    if (execution.kind !== "task") throw new Error("expected a task")
    await execution.cancel()
    const { outcome } = await execution.settle()
    expect(outcome.status).toBe("cancelled")
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const got = await taskGet(c, execution.handle.taskId)
    expect(got).toMatchObject({ status: "cancelled" })
    expect(got).not.toHaveProperty("result")
    const listed = await now(c, "ssh_list_jobs", {})
    expect((listed.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === execution.handle.taskId))
      .toMatchObject({ status: "killed", end_reason: "signal" })
  })

  it("asks a policy confirm through the task (input_required, tasks/update): refused, nothing runs; allowed, it runs", async () => {
    for (const answer of ["refuse", "run"] as const) {
      decision = answer
      asked.length = 0
      const file = `/tmp/task-confirm-${process.pid}-${token()}`
      const statuses: Array<string> = []
      const execution = await c.session.callTool("ssh_exec", { command: `touch ${file}` })
      // It asks before anything runs, so it is a task at once, whatever its length.
      expect(execution.kind).toBe("task")
      const r = await settled(execution, (e) => {
        if (e.type === "task") statuses.push(e.task.status)
      })
      expect(statuses).toContain("input_required")
      expect(asked).toHaveLength(1)
      expect(asked[0]).toContain(`touch ${file}`)
      const exists = (await sshd.exec(`test -e ${file}`)).code === 0
      if (answer === "refuse") {
        expect(r.isError).toBe(true)
        expect(r.text).toMatch(/^POLICY_DENIED: .*the user refused it/)
        expect(exists).toBe(false)
      } else {
        expect(r.isError, r.text).toBe(false)
        expect(r.data).toMatchObject({ status: "exited", exit_status: 0 })
        expect(exists).toBe(true)
      }
    }
  })

  it("asks about an unknown host key through the task; the connection goes ahead on the answer", async () => {
    asked.length = 0
    const statuses: Array<string> = []
    // known_hosts trusts 127.0.0.1:port, not localhost:port: the key is unknown under that name.
    const execution = await c.session.callTool("ssh_connect", {
      host: "localhost",
      port: sshd.port,
      user: sshd.user.name,
      key_path: sshd.clientKeyPath,
      alias: `lh${token()}`
    })
    expect(execution.kind).toBe("task")
    const r = await settled(execution, (e) => {
      if (e.type === "task") statuses.push(e.task.status)
    })
    expect(statuses).toContain("input_required")
    expect(asked).toHaveLength(1)
    expect(asked[0]).toMatch(/SSH host key .* is not known[\s\S]*SHA256:/)
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ address: "localhost", port: sshd.port })
  })

  it("makes ssh_exec_many a task of its own that names each host's job", async () => {
    const t = token()
    const execution = await quick.session.callTool("ssh_exec_many", { hosts: ["box", "box2"], command: `sleep 3; echo done ${t}` })
    if (execution.kind !== "task") throw new Error("expected a task")
    const taskId = execution.handle.taskId
    expect(taskId).toMatch(/^task-[0-9a-f]{16}$/)
    // Each host's job is named once it is listed, in the order they were.
    const named = new Map<string, string>()
    for (let i = 0; i < 50 && named.size < 2; i++) {
      const got = await taskGet(quick, taskId)
      for (const m of String(got.statusMessage ?? "").matchAll(/\b(box2?) (job-[0-9a-f]+)/g)) named.set(m[1]!, m[2]!)
      if (named.size < 2) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect([...named.keys()].sort()).toEqual(["box", "box2"])
    const listed = await now(quick, "ssh_list_jobs", {})
    const jobs = (listed.data.jobs as Array<Record<string, unknown>>).filter((j) => [...named.values()].includes(j.job_id as string))
    expect(jobs.map((j) => [j.host, j.job_id]).sort()).toEqual([["box", named.get("box")], ["box2", named.get("box2")]])
    const r = await settled(execution)
    expect(r.data).toMatchObject({ ok: 2, failed: 0 })
  })

  it("makes a transfer a task; its result is the transfer's", async () => {
    const dir = fs.mkdtempSync(path.join(sshd.dir, "tasks-up-"))
    const local = path.join(dir, "blob.bin")
    fs.writeFileSync(local, Buffer.alloc(8 * 1024 * 1024, 7))
    const remote = `/tmp/task-up-${token()}.bin`
    const execution = await quick.session.callTool("ssh_upload", { local_path: local, remote_path: remote })
    expect(execution.kind).toBe("task")
    const r = await settled(execution)
    expect(r.data).toMatchObject({ bytes: 8 * 1024 * 1024, verified: true })
    await sshd.exec(`rm -f ${remote}`)
  })

  it("says which task id is unknown and which expired (-32602 naming it)", async () => {
    const unknown = await quick.raw("tasks/get", { taskId: "job-0000000000000000" })
    expect(unknown).toMatchObject({ kind: "error", error: { code: -32602 } })
    expect(unknown.kind === "error" && unknown.error.message).toContain("\"job-0000000000000000\" not found")
    const execution = await quick.session.callTool("ssh_exec", { command: "sleep 0.5" })
    if (execution.kind !== "task") throw new Error("expected a task")
    await settled(execution)
    let r = await quick.raw("tasks/get", { taskId: execution.handle.taskId })
    for (let i = 0; i < 100 && r.kind === "result"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      r = await quick.raw("tasks/get", { taskId: execution.handle.taskId })
    }
    expect(r).toMatchObject({ kind: "error", error: { code: -32602 } })
    // How it ended outlives the task.
    expect(r.kind === "error" && r.error.message).toMatch(new RegExp(`"${execution.handle.taskId}" has expired \\(it completed \\(exited, exit_status 0\\) at \\S+\\)`))
    for (const method of ["tasks/update", "tasks/cancel"]) {
      expect(await quick.raw(method, { taskId: "task-0000000000000000" })).toMatchObject({ kind: "error", error: { code: -32602 } })
    }
  })

  it("sends notifications/tasks to a client that listens for the task ids: acknowledged, the state, each change of status", async () => {
    const execution = await quick.session.callTool("ssh_exec", { command: "sleep 2; echo listened" })
    if (execution.kind !== "task") throw new Error("expected a task")
    const taskId = execution.handle.taskId
    const seen = quick.notifications.length
    // No result ever comes for a listen: the stream carries notifications until it ends.
    void quick.raw("subscriptions/listen", { notifications: { taskIds: [taskId, "job-0000000000000000"] } })
    const mine = () => quick.notifications.slice(seen).map((n) => n as { method: string; params: Record<string, unknown> })
    for (let i = 0; i < 100 && !mine().some((n) => n.method === "notifications/tasks" && n.params.status === "completed"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const got = mine()
    const ack = got.find((n) => n.method === "notifications/subscriptions/acknowledged")
    expect(ack?.params.notifications).toEqual({ taskIds: [taskId] })
    const updates = got.filter((n) => n.method === "notifications/tasks")
    expect(updates.map((n) => n.params.status)).toEqual(["working", "completed"])
    expect(updates[1]!.params).toMatchObject({ taskId, result: { structuredContent: { stdout: "listened\n" } } })
    expect((updates[0]!.params._meta as Record<string, unknown>)["io.modelcontextprotocol/subscriptionId"]).toBeDefined()
    await settled(execution)
    const refused = await quick.raw("subscriptions/listen", { notifications: { taskIds: [taskId] } }, { tasks: false })
    expect(refused).toMatchObject({ kind: "error", error: { code: -32021 } })

    if (transport === "stdio") {
      // Over stdio a listen ends with notifications/cancelled naming it: nothing more comes.
      const next = await quick.session.callTool("ssh_exec", { command: "sleep 1; echo again" })
      if (next.kind !== "task") throw new Error("expected a task")
      const before = quick.notifications.length
      void quick.raw("subscriptions/listen", { notifications: { taskIds: [next.handle.taskId] } })
      for (let i = 0; i < 50 && quick.notifications.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      const ack = quick.notifications[before] as { params: { _meta: Record<string, string> } }
      await quick.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: ack.params._meta["io.modelcontextprotocol/subscriptionId"]! } })
      const count = quick.notifications.length
      await settled(next)
      expect(quick.notifications.slice(count).filter((n) => "method" in n && n.method === "notifications/tasks")).toEqual([])
    }
  })

  it("refuses tasks/* from a request that does not declare the extension (-32021)", async () => {
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      const r = await c.raw(method, { taskId: "job-0000000000000000" }, { tasks: false })
      expect(r).toMatchObject({
        kind: "error",
        error: { code: -32021, data: { requiredCapabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } } } }
      })
    }
  })

  if (transport === "http") {
    it("finds a task from another HTTP session: a new client resumes it and gets its result", async () => {
      const execution = await c.session.callTool("ssh_exec", { command: "sleep 3; echo handed over" })
      if (execution.kind !== "task") throw new Error("expected a task")
      let reference: SerializedTaskReference | undefined
      await execution.handoff((r) => {
        reference = r
      })
      const other = await startTasksClient({ transport, connect: c.http! })
      try {
        const got = await taskGet(other, reference!.taskId)
        expect(got.status).toMatch(/^(working|completed)$/)
        const resumed = await other.session.resumeTask(reference!)
        const r = await settled(resumed)
        expect(r.data).toMatchObject({ status: "exited", stdout: "handed over\n", job_id: reference!.taskId })
      } finally {
        await other.close()
      }
    })
  }
})

/**
 * The 2025-11-25 experimental tasks (VS Code's), over the same tasks: the requester's v1 on a
 * 2025-11-25 session. A task-augmented call is a task at once; questions are pushed as
 * `elicitation/create` related to the task; the result comes with `tasks/result`.
 */
for (const transport of ["stdio", "http"] as const) describeWithSshd(`MCP Tasks 2025-11-25 over ${transport}`, (getSshd) => {
  let sshd: Sshd
  let c: TasksClient
  const asked: Array<string> = []
  const task = { task: { preference: "require" as const } }

  beforeAll(async () => {
    sshd = getSshd()
    c = await startTasksClient({
      transport,
      wire: "2025",
      args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd), "--kill-grace-ms", "1000"],
      onElicit: async (params) => {
        asked.push(String(params.message))
        return { action: "accept", content: { decision: "run" } }
      }
    })
  })
  afterAll(async () => {
    await c?.close()
  })

  it("declares capabilities.tasks and marks the tools that may be tasks in tools/list", async () => {
    expect(c.client.getProtocolEra()).toBe("legacy")
    expect(c.client.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } })
    expect(c.session.capabilities).toMatchObject({ execution: true, cancellation: true })
    const { tools } = await c.client.listTools()
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]))
    expect(support).toMatchObject({ ssh_exec: "optional", ssh_exec_many: "optional", ssh_upload: "optional", ssh_download: "optional", ssh_tail: undefined })
  })

  it("answers a task-augmented exec with a task at once (its job's id); tasks/result gives the call's result", async () => {
    const execution = await c.session.callTool("ssh_exec", { command: "for i in 1 2 3; do echo old $i; sleep 0.3; done" }, task)
    expect(execution.kind).toBe("task")
    if (execution.kind !== "task") return
    expect(execution.handle.taskId).toMatch(/^job-[0-9a-f]{16}$/)
    const r = await settled(execution)
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, stdout: "old 1\nold 2\nold 3\n", job_id: execution.handle.taskId })
    const listed = await c.raw("tasks/list", {})
    expect(listed.kind === "result" && JSON.stringify(listed.result)).toContain(execution.handle.taskId)
  })

  it("answers a call that is not task-augmented as before", async () => {
    const execution = await c.session.callTool("ssh_exec", { command: "echo plain" })
    expect(execution.kind).toBe("immediate")
    expect((await settled(execution)).data).toMatchObject({ stdout: "plain\n", job_id: null })
  })

  it("cancels: TERM, grace, KILL; tasks/cancel answers with the cancelled task", async () => {
    const t = token()
    const execution = await c.session.callTool("ssh_exec", { command: `trap '' TERM; sleep ${t}` }, task)
    if (execution.kind !== "task") throw new Error("expected a task")
    const cancelled = await c.raw("tasks/cancel", { taskId: execution.handle.taskId })
    expect(cancelled).toMatchObject({ kind: "result", result: { taskId: execution.handle.taskId, status: "cancelled" } })
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    expect((await execution.settle()).outcome.status).toBe("cancelled")
  })

  it("pushes a policy confirm as elicitation/create related to the task, and goes on with the answer", async () => {
    asked.length = 0
    const file = `/tmp/task-confirm-${process.pid}-${token()}`
    const execution = await c.session.callTool("ssh_exec", { command: `touch ${file}` }, task)
    expect(execution.kind).toBe("task")
    const r = await settled(execution)
    expect(r.isError, r.text).toBe(false)
    expect(asked).toHaveLength(1)
    expect(asked[0]).toContain(`touch ${file}`)
    expect((await sshd.exec(`test -e ${file}`)).code).toBe(0)
  })
})

/** Clients without the extension: a long call is answered as it always was. */
const UNCHANGED = CLIENT_MATRIX.filter((m) => m.client === "modern" || m.client === "v1")
for (const m of UNCHANGED) describeWithSshd(`no Tasks extension: ${m.name} sees no change`, (getSshd) => {
  let server: McpServerProcess

  beforeAll(async () => {
    const sshd = getSshd()
    server = await startMcpServer({ transport: m.transport, client: m.client, args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd), "--task-after-ms", "300"] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("answers a call past the threshold with its result, no task", async () => {
    const r = await call(server, "ssh_exec", { command: "sleep 1.5; echo slow" })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ status: "exited", exit_status: 0, stdout: "slow\n", job_id: null })
  })
})
