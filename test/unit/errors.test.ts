/**
 * The table of domain errors: one class per code, the agent-facing text unchanged by the
 * structured fields, and reasons as data.
 */
import { describe, expect, it } from "vitest"
import { BindError, ConnectError, domainErrors, JobNotFoundError, LimitReachedError } from "../../src/domain/errors.js"
import { errorResult, toResult } from "../../src/mcp/tools/register.js"
import { Exit } from "effect"

describe("domain errors", () => {
  it("each class has a code of its own (BindError: one per reason)", () => {
    const codes = domainErrors.flatMap((E) =>
      E === BindError
        ? (["in-use", "denied"] as const).map((reason) => new BindError({ message: "", reason, address: "127.0.0.1", port: 1, errno: "" }).code)
        // Every other class is made from a message alone (the rest of its fields are optional or checked below).
        : [new (E as unknown as new(a: object) => { code: string })({ message: "", fingerprint: "", by: "rule" }).code]
    )
    expect(new Set(codes).size).toBe(codes.length)
    expect(codes).toContain("AUDIT_LOG_FAILED")
    expect(codes).toEqual(expect.arrayContaining(["PORT_IN_USE", "PORT_DENIED"]))
    for (const c of codes) expect(c).toMatch(/^[A-Z][A-Z_]+$/)
  })

  it("fields and causes are data; the agent reads CODE: message (hint: …) as before", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:22"), { code: "ECONNREFUSED" })
    const e = new ConnectError({ message: "box: connection refused", hint: "is sshd running?", host: "box", cause })
    expect(e.cause).toBe(cause)
    expect(e.host).toBe("box")
    expect(toResult(Exit.fail(e), () => ({}), "ssh_exec")).toEqual(errorResult("CONNECT_FAILED", "box: connection refused", "is sshd running?"))
    expect(toResult(Exit.fail(e), () => ({}), "ssh_exec").content).toEqual([{ type: "text", text: "CONNECT_FAILED: box: connection refused (hint: is sshd running?)" }])
    expect(new JobNotFoundError({ message: "no job 'j1'", jobId: "j1" }).jobId).toBe("j1")
    expect(new LimitReachedError({ message: "m", limit: "max_jobs", max: 3 })).toMatchObject({ limit: "max_jobs", max: 3, code: "LIMIT_REACHED" })
  })
})
