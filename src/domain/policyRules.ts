/**
 * The opt-in policy's rules as pure data: from the configuration (`[policy]` for every
 * host, `[hosts.<alias>.policy]` for one), compiled (regexes with RE2: linear time) and
 * combined per host. The checks on an action are in src/domain/policy.ts.
 *
 * @since 0.2.0
 */
import { RE2JS } from "re2js"

/** The rules as configured (one `[policy]` table); every key optional. */
export interface PolicyRules {
  /** Only commands of the read-only list (src/domain/readOnly.ts); no uploads, env, pty. */
  readonly readOnly?: boolean | undefined
  /** Regexes; when any is given, a command must match one of them in full. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Regexes; a command in which one is found is refused. */
  readonly deny?: ReadonlyArray<string> | undefined
  /** Regexes; a command in which one is found runs only if the human says yes. */
  readonly confirm?: ReadonlyArray<string> | undefined
  /** Remote path prefixes; when any is given, an upload must land under one of them. */
  readonly uploadAllow?: ReadonlyArray<string> | undefined
  /** Remote path prefixes an upload must not touch. */
  readonly uploadDeny?: ReadonlyArray<string> | undefined
  /** Port forwarding allowed (default true). */
  readonly tunnels?: boolean | undefined
  /** Keys into terminal programs (ssh_send_stdin `keys`, control characters to a pty) pass unjudged under allow/deny/confirm rules. */
  readonly interactiveKeys?: boolean | undefined
}

/** The TOML key of each rule (for messages and `ssh_list_hosts`). */
export const ruleKeys = {
  readOnly: "read_only",
  allow: "allow",
  deny: "deny",
  confirm: "confirm",
  uploadAllow: "upload_allow",
  uploadDeny: "upload_deny",
  tunnels: "tunnels",
  interactiveKeys: "interactive_keys"
} as const satisfies Record<keyof PolicyRules, string>

/** A rule and the table it came from, e.g. `[hosts.web1.policy]`. */
interface Sourced<A> {
  readonly value: A
  readonly source: string
}

interface Pattern {
  readonly pattern: string
  readonly regex: RE2JS
  readonly source: string
}

/** One table's rules, compiled. */
export interface CompiledRules {
  readonly source: string
  readonly rules: PolicyRules
  readonly allow: ReadonlyArray<Pattern>
  readonly deny: ReadonlyArray<Pattern>
  readonly confirm: ReadonlyArray<Pattern>
}

/** A regex that does not compile: the key (e.g. `deny[2]`) and why. */
export interface RuleError {
  readonly key: string
  readonly message: string
}

/** Compile one table's regexes; `source` names the table in messages (`[policy]`). */
export const compileRules = (rules: PolicyRules, source: string): CompiledRules | RuleError => {
  const out: Record<"allow" | "deny" | "confirm", Array<Pattern>> = { allow: [], deny: [], confirm: [] }
  for (const key of ["allow", "deny", "confirm"] as const) {
    for (const [i, pattern] of (rules[key] ?? []).entries()) {
      try {
        out[key].push({ pattern, regex: RE2JS.compile(pattern), source })
      } catch (e) {
        return {
          key: `${key}[${i}]`,
          message: `${JSON.stringify(pattern)} is not a regular expression we can run (RE2 syntax: no lookaround or ` +
            `backreferences): ${(e as Error).message}`
        }
      }
    }
  }
  return { source, rules, ...out }
}

export const isRuleError = (r: CompiledRules | RuleError): r is RuleError => "key" in r

/**
 * A host's rules: the global table's, then those of its groups (`[group_policy.*]`, in the
 * order given), then the host's own. Lists that refuse or ask add up (`deny`, `confirm`,
 * `upload_deny`); lists that permit (`allow`, `upload_allow`) and the switches
 * (`read_only`, `tunnels`) are the last layer's that sets them. Undefined when no layer
 * has a rule.
 */
export interface EffectivePolicy {
  readonly readOnly: Sourced<boolean> | undefined
  readonly allow: ReadonlyArray<Pattern>
  readonly deny: ReadonlyArray<Pattern>
  readonly confirm: ReadonlyArray<Pattern>
  readonly uploadAllow: ReadonlyArray<Sourced<string>>
  readonly uploadDeny: ReadonlyArray<Sourced<string>>
  readonly tunnels: Sourced<boolean> | undefined
  readonly interactiveKeys: Sourced<boolean> | undefined
}

const paths = (list: ReadonlyArray<string> | undefined, source: string) => (list ?? []).map((value) => ({ value, source }))

export const combine = (...tables: ReadonlyArray<CompiledRules | undefined>): EffectivePolicy | undefined => {
  const layers = tables.filter((t): t is CompiledRules => t !== undefined)
  if (layers.length === 0) return undefined
  const last = <A>(pick: (t: CompiledRules) => A | undefined): Sourced<A> | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const value = pick(layers[i]!)
      if (value !== undefined) return { value, source: layers[i]!.source }
    }
    return undefined
  }
  const lastList = <A>(pick: (t: CompiledRules) => ReadonlyArray<A>): ReadonlyArray<A> =>
    [...layers].reverse().map(pick).find((list) => list.length > 0) ?? []
  const eff: EffectivePolicy = {
    readOnly: last((t) => t.rules.readOnly),
    allow: lastList((t) => t.allow),
    deny: layers.flatMap((t) => t.deny),
    confirm: layers.flatMap((t) => t.confirm),
    uploadAllow: lastList((t) => paths(t.rules.uploadAllow, t.source)),
    uploadDeny: layers.flatMap((t) => paths(t.rules.uploadDeny, t.source)),
    tunnels: last((t) => t.rules.tunnels),
    interactiveKeys: last((t) => t.rules.interactiveKeys)
  }
  return eff.readOnly === undefined && eff.allow.length === 0 && eff.deny.length === 0 && eff.confirm.length === 0 &&
      eff.uploadAllow.length === 0 && eff.uploadDeny.length === 0 && eff.tunnels === undefined &&
      eff.interactiveKeys === undefined
    ? undefined
    : eff
}

/** The effective rules as `ssh_list_hosts` shows them (TOML keys; only those set). */
export const describePolicy = (p: EffectivePolicy): Record<string, boolean | ReadonlyArray<string>> => ({
  ...(p.readOnly !== undefined ? { read_only: p.readOnly.value } : {}),
  ...(p.allow.length > 0 ? { allow: p.allow.map((r) => r.pattern) } : {}),
  ...(p.deny.length > 0 ? { deny: p.deny.map((r) => r.pattern) } : {}),
  ...(p.confirm.length > 0 ? { confirm: p.confirm.map((r) => r.pattern) } : {}),
  ...(p.uploadAllow.length > 0 ? { upload_allow: p.uploadAllow.map((r) => r.value) } : {}),
  ...(p.uploadDeny.length > 0 ? { upload_deny: p.uploadDeny.map((r) => r.value) } : {}),
  ...(p.tunnels !== undefined ? { tunnels: p.tunnels.value } : {}),
  ...(p.interactiveKeys !== undefined ? { interactive_keys: p.interactiveKeys.value } : {})
})
