/**
 * Elicitation forms made from Effect Schemas: the same forms the tools wrote by hand as JSON
 * Schema before (what clients show), and answers checked by the same schemas.
 */
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { authPromptForm } from "../../../src/mcp/tools/authPrompt.js"
import { acceptedAnswer, elicitForm } from "../../../src/mcp/tools/elicitForm.js"

const Decision = Schema.Struct({
  decision: Schema.Literals(["refuse", "run"]).annotate({ title: "Run it?", enumNames: ["Refuse", "Run it"] })
})

describe("elicitation forms from a Schema", () => {
  it("a choice: enum with its labels, required", () => {
    expect(elicitForm("Allow it?", Decision)).toEqual({
      message: "Allow it?",
      requestedSchema: {
        type: "object",
        properties: { decision: { type: "string", title: "Run it?", enum: ["refuse", "run"], enumNames: ["Refuse", "Run it"] } },
        required: ["decision"]
      }
    })
  })

  it("free text: one field per server prompt, bounded", () => {
    const form = authPromptForm("otp", { name: "", instructions: "", prompts: [{ prompt: "Verification code: ", echo: false }] })
    expect(form.requestedSchema).toEqual({
      type: "object",
      properties: {
        code_0: { type: "string", title: "One-time code", description: "The server's prompt: \"Verification code: \"", maxLength: 1024 }
      },
      required: ["code_0"]
    })
  })

  it("answers are decoded by the form's schema: anything else is no answer", () => {
    expect(acceptedAnswer(Decision, { action: "accept", content: { decision: "run" } })).toEqual({ decision: "run" })
    expect(acceptedAnswer(Decision, { action: "accept", content: { decision: "yes" } })).toBeUndefined()
    expect(acceptedAnswer(Decision, { action: "accept" })).toBeUndefined()
    expect(acceptedAnswer(Decision, { action: "decline", content: { decision: "run" } })).toBeUndefined()
    expect(acceptedAnswer(Decision, { action: "cancel" })).toBeUndefined()
  })
})
