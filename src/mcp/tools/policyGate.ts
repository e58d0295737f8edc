/**
 * The policy check every acting tool makes before its service call: the `Policy`
 * service decides; a `confirm` rule is put to the human as a yes/no form (MCP form
 * elicitation). Without an elicitation-capable client the action is refused with
 * `CONFIRMATION_UNAVAILABLE`; a human who says no gives `POLICY_DENIED`.
 *
 * Side-effect free until the answer: on a 2026-07-28 multi-round call the handler runs
 * again with the answer, and the first round's "cancel" (question pending) must not have
 * run anything. The question's text depends only on the action, so the same question is
 * recognised in the next round.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { ConfirmationUnavailableError, type HostNotFoundError, PolicyDeniedError } from "../../domain/errors.js"
import { quoteForHuman } from "../../domain/escapeText.js"
import type { PolicyAction } from "../../domain/policy.js"
import { Policy } from "../../services/Policy.js"
import { acceptedAnswer, elicitForm } from "./elicitForm.js"
import type { ElicitForm, ToolContext } from "./Tool.js"

export type PolicyGateError = PolicyDeniedError | ConfirmationUnavailableError | HostNotFoundError

/** The question's one field. */
const Decision = Schema.Struct({
  decision: Schema.Literals(["refuse", "run"]).annotate({ title: "Run it?", enumNames: ["Refuse", "Run it"] })
})

/**
 * What the human is shown: ours, with everything the agent wrote quoted (JSON, with line
 * separators, bidi controls and C1 escaped too: `quoteForHuman`).
 */
const question = (host: string, action: PolicyAction, rule: string): ElicitForm => {
  const q = quoteForHuman
  const what = action._tag === "Keys"
    ? `press ${q(action.keys.join(" "))} in the job ${q(action.jobCommand)} on host ${q(host)}`
    : action._tag === "Stdin"
    ? `type into the shell job ${q(action.jobCommand)} on host ${q(host)}:\n${q(action.data)}`
    : action._tag === "Command"
    ? `run on host ${q(host)}:\n${q(action.command)}` +
      (action.stdin !== undefined ? `\nwith this stdin:\n${q(action.stdin)}` : "")
    : `${action._tag === "Upload" ? `upload to ${q(action.remotePath)}` : "open a tunnel"} on host ${q(host)}`
  return elicitForm(`The agent wants to ${what}\nThe operator's policy asks you first (${rule}). Allow it?`, Decision)
}

/**
 * Check `action` on `host` (the default host when undefined) against the policy, asking
 * the human when a `confirm` rule matches; succeeds when it may go ahead.
 */
export const enforcePolicy = (
  ctx: ToolContext,
  host: string | undefined,
  action: PolicyAction
): Effect.Effect<void, PolicyGateError, Policy> =>
  Effect.gen(function*() {
    const policy = yield* Policy
    if (!policy.enabled) return
    const decision = yield* policy.decide(host, action)
    if (decision._tag === "Allow") return
    if (ctx.elicit === undefined) {
      return yield* new ConfirmationUnavailableError({
        message: `host '${decision.host}': ${decision.rule}: the user must confirm this, and this client cannot ask (no form elicitation)`,
        hint: "ask the user to run it themselves, or to use a client that supports elicitation"
      })
    }
    const answer = yield* ctx.elicit(question(decision.host, action, decision.rule)).pipe(
      Effect.mapError((e) =>
        new ConfirmationUnavailableError({
          message: `host '${decision.host}': ${decision.rule}: asking the user failed (${e.message})`,
          hint: "ask the user to confirm in the conversation and try again",
          cause: e
        })
      )
    )
    if (acceptedAnswer(Decision, answer)?.decision === "run") return
    return yield* new PolicyDeniedError({
      message: `host '${decision.host}': ${decision.rule}, and the user ${answer.action === "cancel" ? "cancelled" : "refused"} it`,
      hint: "the user said no: do not retry it; ask the user what to do instead",
      host: decision.host,
      by: answer.action === "cancel" ? "user-cancelled" : "user-refused"
    })
  })

/**
 * `enforcePolicy` for one command on many hosts (`ssh_exec_many`): one check per host, in
 * input order and one after the other (the questions of a multi-round call are numbered in
 * the order they are asked). Returns, per host in input order, the refusal or undefined
 * when the host may run it. A cancelled question fails the whole call, so that nothing
 * runs anywhere before every answer is in (on a 2026-07-28 call, a question still pending
 * reads as "cancel" in the round that asks it).
 */
export const enforcePolicyEach = (
  ctx: ToolContext,
  hosts: ReadonlyArray<string>,
  action: PolicyAction
): Effect.Effect<ReadonlyArray<PolicyGateError | undefined>, PolicyDeniedError, Policy> =>
  Effect.gen(function*() {
    const out: Array<PolicyGateError | undefined> = []
    let cancelled: PolicyDeniedError | undefined
    for (const host of hosts) {
      const r = yield* Effect.result(enforcePolicy(ctx, host, action))
      if (r._tag === "Success") {
        out.push(undefined)
        continue
      }
      out.push(r.failure)
      if (r.failure._tag === "PolicyDeniedError" && r.failure.by === "user-cancelled") cancelled ??= r.failure
    }
    if (cancelled !== undefined) return yield* cancelled
    return out
  })
