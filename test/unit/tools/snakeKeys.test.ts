/**
 * `snakeKeys` both ways: a tool's input takes the agent's snake_case arguments and hands the
 * handler a service's camelCase options; an output takes a service's result and sends it in
 * snake_case. What is published, and the field a refusal names, must be what a struct written
 * in snake_case by hand gave.
 */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { int, Name, snakeKeys } from "../../../src/mcp/tools/fields.js"

const fields = {
  command: Schema.String.annotate({ description: "Shell command." }),
  timeoutMs: Schema.optionalKey(int(1, 100).annotate({ description: "Stop it after this long." })),
  keyPath: Schema.optionalKey(Name(4096, "Private key.")),
  password: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  bindPort: int(0, 65535)
}
const Renamed = snakeKeys(Schema.Struct(fields))
/** The same input written in snake_case by hand, as the tools had it. */
const ByHand = Schema.Struct({
  command: fields.command,
  timeout_ms: fields.timeoutMs,
  key_path: fields.keyPath,
  password: fields.password,
  bind_port: fields.bindPort
})

const jsonSchema = (schema: Schema.Codec<unknown, unknown>) =>
  JSON.stringify(Schema.toStandardJSONSchemaV1(Schema.toStandardSchemaV1(schema))["~standard"].jsonSchema.input({ target: "draft-2020-12" }))

/** As `register.ts` validates arguments: excess keys refused, every issue reported. */
const validate = (schema: Schema.Codec<unknown, unknown>, value: unknown) =>
  Schema.toStandardSchemaV1(schema, { parseOptions: { onExcessProperty: "error", errors: "all" } })["~standard"].validate(value)

describe("snakeKeys as a tool's input", () => {
  it("publishes the JSON Schema of the snake_case struct: same keys, order, descriptions, bounds and required", () => {
    expect(jsonSchema(Renamed)).toBe(jsonSchema(ByHand))
    expect(Object.keys(JSON.parse(jsonSchema(Renamed)).properties)).toEqual(["command", "timeout_ms", "key_path", "password", "bind_port"])
  })

  it("refuses bad arguments naming the snake_case field the agent sent, as the hand-written struct did", async () => {
    for (
      const args of [
        { command: "x", timeout_ms: 0, bind_port: 1 },
        { command: "x", key_path: "", bind_port: 70000, bogus: 1 },
        { command: 3, timeout_ms: "1" },
        // The service's own name is not an argument.
        { command: "x", bind_port: 1, timeoutMs: 5 }
      ]
    ) {
      const renamed = await validate(Renamed, args)
      const byHand = await validate(ByHand, args)
      expect(renamed.issues, JSON.stringify(args)).toBeDefined()
      expect(renamed.issues).toEqual(byHand.issues)
    }
    const refused = await validate(Renamed, { command: "x", timeout_ms: 0, bind_port: 1 })
    expect(refused.issues?.map((i) => i.path)).toEqual([["timeout_ms"]])
  })

  it("hands the handler the camelCase options, secrets still redacted", async () => {
    const r = await validate(Renamed, { command: "ls", timeout_ms: 5, key_path: "/k", password: "hunter2", bind_port: 0 })
    expect(r.issues).toBeUndefined()
    const value = (r as { value: typeof Renamed.Type }).value
    expect(Object.keys(value)).toEqual(["command", "timeoutMs", "keyPath", "password", "bindPort"])
    expect(value).toMatchObject({ command: "ls", timeoutMs: 5, keyPath: "/k", bindPort: 0 })
    expect(String(value.password)).not.toContain("hunter2")
  })
})

describe("snakeKeys as a tool's output", () => {
  const Out = snakeKeys(Schema.Struct({ jobId: Schema.String, startedAt: Schema.DateFromString, viewUrl: Schema.optionalKey(Schema.String), exitStatus: Schema.NullOr(Schema.Int) }))

  it("sends a service's result in snake_case, in the schema's order, without what it does not declare", () => {
    const result = { exitStatus: null, pty: true, startedAt: new Date(0), jobId: "job-1" }
    expect(JSON.stringify(Schema.encodeSync(Out)(result))).toBe(`{"job_id":"job-1","started_at":"1970-01-01T00:00:00.000Z","exit_status":null}`)
  })
})
