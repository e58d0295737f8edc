/**
 * A server's keyboard-interactive question (a one-time code, "Verification code:", a Duo
 * choice) asked of the person by form elicitation. The wording is ours; the server's name,
 * instructions and prompts are its text, quoted (JSON, with line separators and bidi
 * controls escaped too) so that they cannot pass for ours. The answers go to the server
 * only: never logged, audited or kept. The password is never asked this way (the server's
 * password prompts are answered with the configured one, or fail).
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { quoteForHuman as quote } from "../../domain/escapeText.js"
import type { AuthQuestion, ConnectOptions } from "../../services/Connections.js"
import { acceptedAnswer, elicitForm } from "./elicitForm.js"
import type { ElicitForm, ToolContext } from "./Tool.js"

/** The fields of one round of prompts: `code_<i>` answers prompt i. */
const answersSchema = (question: AuthQuestion) =>
  Schema.Struct(Object.fromEntries(question.prompts.map((p, i) => [
    `code_${i}`,
    Schema.String.annotate({ title: "One-time code", description: `The server's prompt: ${quote(p.prompt)}` }).check(Schema.isMaxLength(1024))
  ])))

/** The form for one round of prompts on the host the agent named `alias`. */
export const authPromptForm = (alias: string, question: AuthQuestion): ElicitForm => {
  const from = [question.name, question.instructions].filter((t) => t.trim() !== "").map(quote)
  return elicitForm(
    `The SSH server of the host the agent named ${quote(alias)} asks for a one-time code (keyboard-interactive).\n` +
      (from.length > 0 ? `It says: ${from.join(" ")}\n` : "") +
      `Its prompt${question.prompts.length > 1 ? "s" : ""}: ${question.prompts.map((p) => quote(p.prompt)).join(", ")}\n` +
      `Answer only if you are expecting it. The answer goes to that server once; it is not stored or logged.`,
    answersSchema(question)
  )
}

/** `onAuthPrompt` for a connect: asks through `ctx.elicit` when the client has it. */
export const authPromptOption = (ctx: ToolContext, alias: string): Pick<ConnectOptions, "onAuthPrompt"> => {
  const elicit = ctx.elicit
  if (elicit === undefined) return {}
  return {
    onAuthPrompt: (question) =>
      elicit(authPromptForm(alias, question)).pipe(
        Effect.map((answer) => {
          const codes = acceptedAnswer(answersSchema(question), answer)
          return codes === undefined ? undefined : question.prompts.map((_, i) => codes[`code_${i}`]!)
        }),
        Effect.catch((e) => Effect.as(Effect.logWarning(`one-time code elicitation failed: ${e.message}`), undefined))
      )
  }
}
