/**
 * Keyboard-interactive answers: the password answers only the prompts that ask for the
 * password; every other prompt (a one-time code, "Verification code:", a Duo choice) is a
 * question for a person, asked through `KeyboardHooks.ask` (MCP form elicitation). With
 * no one to ask, the handshake stops naming the prompt. Answers are handed to ssh2 and
 * kept nowhere else.
 *
 * @since 0.2.0
 */
import type { Prompt } from "ssh2"
import { Redacted } from "effect"

/** One question of the server. */
export interface AuthPrompt {
  /** The server's text, as it sent it (untrusted: quote it before showing it). */
  readonly prompt: string
  /** Whether what is typed may be shown. */
  readonly echo: boolean
}

/** A round of questions the server put (SSH_MSG_USERAUTH_INFO_REQUEST), the password prompts taken out. */
export interface AuthQuestion {
  readonly name: string
  readonly instructions: string
  readonly prompts: ReadonlyArray<AuthPrompt>
}

/** Why a prompt was not answered. */
export type Unanswered =
  /** Nobody to ask: the client cannot elicit, or this is a background reconnect. */
  | "no-one-to-ask"
  /** The person declined or cancelled. */
  | "declined"
  /** The server asks for the password and none was given (it is never asked of the person this way). */
  | "password"

export interface KeyboardHooks {
  /** Ask a person; `answer` gets the answers in order, or undefined when they gave none. Undefined: nobody to ask. */
  readonly ask: ((question: AuthQuestion, answer: (answers: ReadonlyArray<string> | undefined) => void) => void) | undefined
  /** Stop the handshake: `prompt` cannot be answered. */
  readonly unanswered: (prompt: string, why: Unanswered) => void
}

/** A prompt that asks for the account's password (and not for a new one, a code or a PIN). */
export const asksForPassword = (p: AuthPrompt): boolean =>
  !p.echo && /password/i.test(p.prompt) && !/\b(new|again|retype|re-enter|confirm)\b/i.test(p.prompt)

/** ssh2's keyboard-interactive `prompt` callback for `password` (maybe none) and `hooks`. */
export const keyboardPrompt = (password: Redacted.Redacted<string> | undefined, hooks: KeyboardHooks) =>
(
  name: string,
  instructions: string,
  _lang: string,
  prompts: Array<Prompt>,
  finish: (answers: Array<string>) => void
): void => {
  const asked = prompts.map((p): AuthPrompt => ({ prompt: p.prompt, echo: p.echo === true }))
  const answers: Array<string | undefined> = asked.map((p) => (asksForPassword(p) && password !== undefined ? Redacted.value(password) : undefined))
  const open = asked.filter((_, i) => answers[i] === undefined)
  if (open.length === 0) return finish(answers.map((a) => a ?? ""))
  const passwordPrompt = open.find(asksForPassword)
  if (passwordPrompt !== undefined) return hooks.unanswered(passwordPrompt.prompt, "password")
  if (hooks.ask === undefined) return hooks.unanswered(open[0]!.prompt, "no-one-to-ask")
  hooks.ask({ name, instructions, prompts: open }, (given) => {
    if (given === undefined || given.length !== open.length) return hooks.unanswered(open[0]!.prompt, "declined")
    let next = 0
    finish(answers.map((a) => a ?? given[next++]!))
  })
}
