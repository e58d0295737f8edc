/**
 * Keys into terminal programs under the policy (docs/TOOLS.md, "Hand-off"): no rule can judge them (vim's
 * `:!` runs anything), so with no policy they pass, under read_only they are refused, and
 * under allow/deny/confirm rules they are refused unless the host sets interactive_keys.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { type BashParser, loadBashParser } from "../../../src/domain/bashParser.js"
import { check as checkWith, type PolicyAction } from "../../../src/domain/policy.js"
import { combine, compileRules, describePolicy, isRuleError, type PolicyRules } from "../../../src/domain/policyRules.js"

let parser: BashParser
beforeAll(async () => {
  parser = await loadBashParser()
})
const check = (p: Parameters<typeof checkWith>[0], action: PolicyAction) => checkWith(p, action, parser)

const policy = (...tables: Array<PolicyRules>) =>
  combine(...tables.map((t, i) => {
    const c = compileRules(t, i === 0 ? "[policy]" : "[hosts.web1.policy]")
    if (isRuleError(c)) throw new Error(c.message)
    return c
  }))
const keys = (...k: Array<string>): PolicyAction => ({ _tag: "Keys", jobCommand: "vim notes.txt", keys: k })
const typed = (data: string, extra: { terminal?: boolean; shell?: boolean } = {}): PolicyAction =>
  ({ _tag: "Stdin", jobCommand: "vim notes.txt", data, ...extra })

describe("keys into terminal programs", () => {
  it("pass with no policy, or one without command rules", () => {
    expect(check(undefined, keys("Esc", "Enter"))).toEqual({ _tag: "Allow" })
    expect(check(policy({ tunnels: false, uploadDeny: ["/etc"] }), keys("Esc"))).toEqual({ _tag: "Allow" })
  })

  it("are refused under read_only, whatever interactive_keys says", () => {
    const v = check(policy({ readOnly: true, interactiveKeys: true }), keys("Esc"))
    expect(v).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("read_only of [policy]") })
  })

  it("are refused under allow, deny or confirm rules unless the host sets interactive_keys", () => {
    for (const rules of [{ allow: ["ls"] }, { deny: ["rm"] }, { confirm: ["reboot"] }]) {
      const v = check(policy(rules), keys("Esc"))
      expect(v, JSON.stringify(rules)).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("interactive_keys"), hint: expect.stringContaining("interactive_keys = true") })
      expect(check(policy(rules, { interactiveKeys: true }), keys("Esc"))).toEqual({ _tag: "Allow" })
    }
    // The host's own setting wins over the global one.
    expect(check(policy({ deny: ["rm"], interactiveKeys: true }, { interactiveKeys: false }), keys("Up"))._tag).toBe("Deny")
    expect(describePolicy(policy({ deny: ["rm"] }, { interactiveKeys: true })!)).toEqual({ deny: ["rm"], interactive_keys: true })
  })

  it("count as keys when sent as control characters to a terminal; plain text to a program stays unchecked", () => {
    const p = policy({ deny: ["rm"] })
    expect(check(p, typed("\x1b:!rm -rf ~\r", { terminal: true }))._tag).toBe("Deny")
    expect(check(p, typed(":wq\r", { terminal: true }))).toEqual({ _tag: "Allow" })
    expect(check(p, typed("\x1b", { terminal: false }))).toEqual({ _tag: "Allow" })
    expect(check(policy({ deny: ["rm"], interactiveKeys: true }), typed("\x1b:wq\r", { terminal: true }))).toEqual({ _tag: "Allow" })
  })

  it("a person's pane is typed into as a shell: each line is a command the rules judge", () => {
    const p = policy({ deny: ["rm"] })
    expect(check(p, typed("rm -rf /tmp/x\n", { terminal: true, shell: true }))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("deny rule") })
    expect(check(p, typed("ls\n", { terminal: true, shell: true }))).toEqual({ _tag: "Allow" })
    expect(check(p, typed("ls", { terminal: true, shell: true }))._tag).toBe("Deny")
  })
})
