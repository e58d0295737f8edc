/**
 * The task registry's own rules, on a hand-moved clock: the cap on tasks held, one
 * retention rule (finished tasks kept reap_finished_after_sec, then expired, not unknown),
 * questions and answers, cancel, and what `tasks/get` shows (small, status-specific).
 */
import { describe, expect, it } from "vitest"
import { detailedTask } from "../../../src/mcp/tasks/protocol.js"
import { TaskRegistry } from "../../../src/mcp/tasks/TaskRegistry.js"
import type { ElicitAnswer, ElicitForm } from "../../../src/mcp/tools/Tool.js"

const form: ElicitForm = {
  message: "Run it?",
  requestedSchema: { type: "object", properties: { decision: { type: "string", enum: ["refuse", "run"] } }, required: ["decision"] }
}
const ok = { content: [{ type: "text" as const, text: "{}" }], structuredContent: {} }

const setup = (maxTasks = 3, keepSec = 60) => {
  let now = 1_000_000
  const registry = new TaskRegistry({ now: () => now, afterMs: 10_000, keepSec, maxTasks })
  const aborted: Array<string> = []
  const create = (id: string) => {
    const reservation = registry.reserve()
    if (reservation === undefined) throw new Error("no place")
    return registry.create(id, "ssh_exec", reservation, () => aborted.push(id))
  }
  return { registry, create, aborted, advance: (ms: number) => (now += ms) }
}

describe("TaskRegistry", () => {
  it("holds at most max_jobs live tasks (calls that may become one included), and gives places back", () => {
    const { registry, create } = setup(3)
    const pending = registry.reserve()!
    create("a")
    create("b")
    expect(registry.reserve()).toBeUndefined()
    pending.release()
    pending.release()
    expect(registry.reserve()).toBeDefined()
  })

  it("forgets the oldest finished task to make room, and says it expired", () => {
    const { registry, create } = setup(2)
    const a = create("a")
    create("b")
    registry.finish(a, { result: ok }, false)
    create("c")
    expect(registry.find("a")).toBe("expired")
    expect(registry.find("b")).toBeDefined()
    expect(registry.find("never")).toBeUndefined()
  })

  it("keeps a finished task reap_finished_after_sec, then expires it; a live one stays", () => {
    const { registry, create, advance } = setup(10, 60)
    const done = create("done")
    create("live")
    registry.finish(done, { result: ok }, false)
    advance(59_000)
    registry.reap()
    expect(registry.find("done")).toBe(done)
    advance(1_000)
    registry.reap()
    expect(registry.find("done")).toBe("expired")
    expect(registry.find("live")).not.toBe("expired")
  })

  it("remembers how an expired task ended: a job's status and exit, an error, a cancel", () => {
    const { registry, create, advance } = setup(10, 60)
    const exited = create("job-1")
    const failed = create("task-2")
    const cancelled = create("job-3")
    registry.finish(exited, { result: { ...ok, structuredContent: { status: "exited", exit_status: 3, signal: null } } }, false)
    registry.finish(failed, { error: { code: -32603, message: "HOST_DOWN: box is down" } }, false)
    registry.finish(cancelled, { result: ok }, true)
    advance(60_000)
    registry.reap()
    expect(registry.find("job-1")).toBe("expired")
    expect(registry.endedAs("job-1")).toMatch(/^completed \(exited, exit_status 3\) at \d{4}-\S+Z$/)
    expect(registry.endedAs("task-2")).toMatch(/^failed at \S+: HOST_DOWN: box is down$/)
    expect(registry.endedAs("job-3")).toMatch(/^cancelled at \S+$/)
    expect(registry.endedAs("never")).toBeUndefined()
  })

  it("shows a working task in a few hundred bytes, with the newest line cut to one short line", () => {
    const { registry, create } = setup()
    const t = create("job-0123456789abcdef")
    registry.progress(t, `  [412/9000] CC ${"very/long/path/".repeat(40)}unit.o\n`)
    const shown = detailedTask(registry.view(t))
    expect(shown).toMatchObject({ status: "working", ttlMs: null, pollIntervalMs: 1000 })
    expect((shown.statusMessage as string).length).toBeLessThanOrEqual(300)
    expect(shown.statusMessage).toMatch(/^\[412\/9000\] CC very/)
    expect(JSON.stringify(shown).length).toBeLessThan(600)
  })

  it("names the jobs a task runs, a few of them", () => {
    const { registry, create } = setup()
    const t = create("task-1")
    for (const h of ["web1", "web2", "web3", "web4", "web5", "web6"]) registry.name(t, h, `job-${h}`)
    expect(registry.view(t).statusMessage).toBe("[jobs: web1 job-web1, web2 job-web2, web3 job-web3, web4 job-web4 +2 more]")
  })

  it("asks through the task: input_required with the question under a key never reused, working again once answered", () => {
    const { registry, create } = setup()
    const t = create("t")
    const answers: Array<ElicitAnswer> = []
    registry.ask(t, form, (a) => answers.push(a))
    const shown = detailedTask(registry.view(t))
    expect(shown.status).toBe("input_required")
    expect(shown.inputRequests).toEqual({
      q1: { method: "elicitation/create", params: { mode: "form", message: form.message, requestedSchema: form.requestedSchema } }
    })
    registry.answer(t, new Map([["q9", { action: "accept" }], ["q1", { action: "accept", content: { decision: "run" } }]]))
    expect(answers).toEqual([{ action: "accept", content: { decision: "run" } }])
    expect(t.status).toBe("working")
    // Answered once: a second answer to the same key is ignored, and the next question has a new key.
    registry.answer(t, new Map([["q1", { action: "decline" }]]))
    expect(answers).toHaveLength(1)
    registry.ask(t, form, () => undefined)
    expect(Object.keys(detailedTask(registry.view(t)).inputRequests as object)).toEqual(["q2"])
  })

  it("withdraws a question the work stopped waiting for", () => {
    const { registry, create } = setup()
    const t = create("t")
    const { withdraw } = registry.ask(t, form, () => undefined)
    withdraw()
    expect(t.status).toBe("working")
    expect(registry.view(t).questions).toEqual([])
  })

  it("cancels by stopping the work once; the task is cancelled when the work has stopped", () => {
    const { registry, create, aborted } = setup()
    const t = create("t")
    registry.cancel(t)
    registry.cancel(t)
    expect(aborted).toEqual(["t"])
    expect(t.status).toBe("working")
    registry.finish(t, { result: ok }, true)
    expect(detailedTask(registry.view(t))).toMatchObject({ status: "cancelled", statusMessage: "cancelled" })
    expect(detailedTask(registry.view(t))).not.toHaveProperty("result")
  })

  it("ends completed with the call's result (tool errors too) or failed with a JSON-RPC error; ttl counts from creation", () => {
    const { registry, create, advance } = setup(5, 60)
    const c = create("c")
    advance(5_000)
    registry.finish(c, { result: { isError: true, content: [{ type: "text", text: "HOST_NOT_FOUND: no" }] } }, false)
    expect(detailedTask(registry.view(c))).toMatchObject({
      status: "completed",
      ttlMs: 65_000,
      result: { isError: true, resultType: "complete", content: [{ type: "text", text: "HOST_NOT_FOUND: no" }] }
    })
    const f = create("f")
    registry.finish(f, { error: { code: -32603, message: "boom" } }, false)
    expect(detailedTask(registry.view(f))).toMatchObject({ status: "failed", error: { code: -32603, message: "boom" } })
    // Terminal is terminal.
    registry.finish(f, { result: ok }, false)
    expect(f.status).toBe("failed")
  })

  it("tells listeners of every change", () => {
    const { registry, create } = setup()
    const seen: Array<string> = []
    const stop = registry.subscribe((t) => seen.push(`${t.id}:${t.status}`))
    const t = create("t")
    registry.progress(t, "line 1")
    registry.progress(t, "line 1")
    registry.finish(t, { result: ok }, false)
    stop()
    create("u")
    expect(seen).toEqual(["t:working", "t:working", "t:completed"])
  })
})
