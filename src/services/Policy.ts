/**
 * The operator's opt-in policy as a service: each host's effective rules (`[policy]`
 * combined with `[hosts.<alias>.policy]`, see src/domain/policyRules.ts) and a decision on
 * one action before anything reaches the host. Pure and side-effect free (the MCP tools
 * call it again on each round of a 2026-07-28 multi-round call). Asking the human when a
 * `confirm` rule matches is the caller's part: the MCP tools do it by form elicitation;
 * a library user decides what `Confirm` means for them.
 *
 * A host the agent adds at runtime (an alias not configured) gets the global rules, and
 * the rules of the first configured host (in configuration order) with rules and the same
 * address and port, so that a second alias for a configured machine does not shed its
 * rules; another name or address for the same machine still does.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../domain/AppConfig.js"
import { type BashParser, loadBashParser } from "../domain/bashParser.js"
import { ConfigError, type HostNotFoundError, PolicyDeniedError } from "../domain/errors.js"
import { check, type PolicyAction } from "../domain/policy.js"
import {
  combine,
  type CompiledRules,
  compileRules,
  describePolicy,
  type EffectivePolicy,
  isRuleError,
  type PolicyRules
} from "../domain/policyRules.js"
import { HostRegistry } from "./HostRegistry.js"

/** An action the policy lets through: at once, or once the human confirms `rule`. */
export type PolicyDecision =
  | { readonly _tag: "Allow"; readonly host: string }
  | { readonly _tag: "Confirm"; readonly host: string; readonly rule: string }

export class Policy extends Context.Service<Policy, {
  /** Whether any rule is configured at all (off by default). */
  readonly enabled: boolean
  /** The effective rules of `alias`; undefined when none apply. */
  rulesOf(alias: string): Effect.Effect<EffectivePolicy | undefined>
  /** The effective rules of `alias` as `ssh_list_hosts` shows them (TOML keys), or null. */
  describe(alias: string): Effect.Effect<Record<string, boolean | ReadonlyArray<string>> | null>
  /**
   * Decide on `action` on `host` (the default host when undefined): Allow, Confirm (ask the
   * human first) or a `PolicyDeniedError` naming the rule. Nothing is sent anywhere.
   */
  decide(host: string | undefined, action: PolicyAction): Effect.Effect<PolicyDecision, PolicyDeniedError | HostNotFoundError>
  /** Port forwarding on `host`: refused when its `tunnels` switch is false. */
  checkTunnel(host: string | undefined): Effect.Effect<void, PolicyDeniedError | HostNotFoundError>
}>()("mcp-ssh-live/Policy") {
  static readonly layer = Layer.effect(Policy)(Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* HostRegistry
    // loadConfig checks the file's rules and names the key; a library user's `AppConfig` is checked here.
    const compile = (rules: PolicyRules | undefined, source: string): Effect.Effect<CompiledRules | undefined, ConfigError> => {
      if (rules === undefined) return Effect.succeed(undefined)
      const compiled = compileRules(rules, source)
      return isRuleError(compiled)
        ? Effect.fail(new ConfigError({ message: `policy ${source} ${compiled.key}: ${compiled.message}` }))
        : Effect.succeed(compiled)
    }
    const tables = {
      global: yield* compile(config.policy, "[policy]"),
      groups: yield* Effect.forEach(Object.entries(config.groupPolicies ?? {}), ([name, rules]) =>
        Effect.map(compile(rules, `[group_policy.${name}]`), (c) =>
          c === undefined ? [] : [{ compiled: c, members: new Set(config.groups?.[name] ?? []) }])).pipe(Effect.map((l) => l.flat())),
      hosts: new Map(
        (yield* Effect.forEach(config.hosts, (h) =>
          Effect.map(compile(h.policy, `[hosts.${h.alias}.policy]`), (c) =>
            c === undefined ? [] : [[h.alias, { compiled: c, address: h.host, port: h.port }] as const]))).flat()
      )
    }
    const enabled = tables.global !== undefined || tables.groups.length > 0 || tables.hosts.size > 0
    // Commands are read by a bash parser (WebAssembly), loaded once and only when there are rules.
    const parser: BashParser | undefined = enabled
      ? yield* Effect.tryPromise({
        try: loadBashParser,
        catch: (e) => new Error(`the policy's bash parser (tree-sitter-bash) did not load: ${String(e)}`)
      }).pipe(Effect.orDie)
      : undefined
    /** The config's groups of `alias` only: joining a group at runtime never changes a host's rules. */
    const groupRules = (alias: string) => tables.groups.filter((g) => g.members.has(alias)).map((g) => g.compiled)
    const configured = new Set(config.hosts.map((h) => h.alias))

    const rulesOf = (alias: string): Effect.Effect<EffectivePolicy | undefined> =>
      !enabled ? Effect.succeed(undefined) : Effect.gen(function*() {
        if (configured.has(alias)) return combine(tables.global, ...groupRules(alias), tables.hosts.get(alias)?.compiled)
        const entry = yield* Effect.option(registry.resolve(alias))
        const twin = entry._tag === "Some"
          ? [...tables.hosts.entries()].find(([, h]) => h.address === entry.value.address && h.port === entry.value.port)
          : undefined
        return combine(tables.global, ...(twin !== undefined ? groupRules(twin[0]) : []), twin?.[1].compiled)
      })

    const aliasOf = (host: string | undefined) =>
      host !== undefined ? Effect.succeed(host) : Effect.map(registry.resolve(undefined), (e) => e.alias)

    const decide = (host: string | undefined, action: PolicyAction) =>
      Effect.gen(function*() {
        const alias = yield* aliasOf(host)
        const rules = yield* rulesOf(alias)
        const verdict = rules === undefined || parser === undefined ? { _tag: "Allow" as const } : check(rules, action, parser)
        switch (verdict._tag) {
          case "Allow":
            return { _tag: "Allow", host: alias } as const
          case "Confirm":
            return { _tag: "Confirm", host: alias, rule: verdict.rule } as const
          case "Deny":
            return yield* new PolicyDeniedError({
              message: `refused on host '${alias}': ${verdict.rule}`,
              hint: verdict.hint,
              host: alias,
              by: "rule"
            })
        }
      })

    return Policy.of({
      enabled,
      rulesOf,
      describe: (alias) => Effect.map(rulesOf(alias), (p) => (p === undefined ? null : describePolicy(p))),
      decide,
      checkTunnel: (host) => Effect.asVoid(decide(host, { _tag: "Tunnel" }))
    })
  }))
}
