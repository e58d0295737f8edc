import { describe, expect, it } from "vitest"
import { compactSchema } from "../../../src/mcp/tools/compactSchema.js"

const M = Number.MAX_SAFE_INTEGER

describe("compactSchema", () => {
  it("drops $schema, additionalProperties: true and ±2^53 integer bounds, keeping real bounds", () => {
    expect(compactSchema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: {
        n: { type: "integer", minimum: -M, maximum: M },
        port: { type: "integer", minimum: 1, maximum: 65535 },
        cursor: { type: "integer", minimum: 0, maximum: M }
      },
      required: ["n"],
      additionalProperties: true
    })).toEqual({
      type: "object",
      properties: { n: { type: "integer" }, port: { type: "integer", minimum: 1, maximum: 65535 }, cursor: { type: "integer", minimum: 0 } },
      required: ["n"]
    })
  })

  it("keeps additionalProperties that constrain", () => {
    expect(compactSchema({ type: "object", additionalProperties: { type: "string" } })).toEqual({ type: "object", additionalProperties: { type: "string" } })
    expect(compactSchema({ type: "object", additionalProperties: false })).toEqual({ type: "object", additionalProperties: false })
  })

  it("writes T | null as a type list, with null added to an enum", () => {
    expect(compactSchema({ anyOf: [{ type: "integer", minimum: -M, maximum: M }, { type: "null" }], description: "d" }))
      .toEqual({ type: ["integer", "null"], description: "d" })
    expect(compactSchema({ anyOf: [{ type: "string", enum: ["a", "b"] }, { type: "null" }] }))
      .toEqual({ type: ["string", "null"], enum: ["a", "b", null] })
    expect(compactSchema({ anyOf: [{ type: "object", properties: { n: { type: "integer" } }, required: ["n"] }, { type: "null" }] }))
      .toEqual({ type: ["object", "null"], properties: { n: { type: "integer" } }, required: ["n"] })
  })

  it("leaves other unions alone", () => {
    const union = { anyOf: [{ type: "string" }, { type: "integer" }] }
    expect(compactSchema(union)).toEqual(union)
    const withConst = { anyOf: [{ type: "string", const: "x" }, { type: "null" }] }
    expect(compactSchema(withConst)).toEqual(withConst)
  })

  it("treats property names and enum values as data", () => {
    expect(compactSchema({
      type: "object",
      properties: { $schema: { type: "string" }, minimum: { type: "integer", minimum: -M } },
      required: ["$schema"]
    })).toEqual({ type: "object", properties: { $schema: { type: "string" }, minimum: { type: "integer" } }, required: ["$schema"] })
    expect(compactSchema({ enum: [M, true, "additionalProperties"] })).toEqual({ enum: [M, true, "additionalProperties"] })
  })

  it("drops required everywhere when asked (output schemas)", () => {
    expect(compactSchema({
      type: "object",
      properties: { a: { type: "object", properties: { b: { type: "string" } }, required: ["b"] } },
      required: ["a"]
    }, { dropRequired: true })).toEqual({ type: "object", properties: { a: { type: "object", properties: { b: { type: "string" } } } } })
  })
})
