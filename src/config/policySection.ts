/**
 * `[policy]`, `[group_policy.<group>]` and `[hosts.<alias>.policy]` read into `PolicyRules`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ConfigError } from "../domain/errors.js"
import { compileRules, isRuleError, type PolicyRules } from "../domain/policyRules.js"
import type { ConfigFile } from "./configFile.js"
import { fail } from "./fail.js"

type PolicySection = NonNullable<ConfigFile["policy"]>

/** A `[policy]` table as rules, its regexes compiled once to check them (an error names the key). */
export const readPolicy = (
  section: PolicySection | undefined,
  key: string,
  fileName: string
): Effect.Effect<PolicyRules | undefined, ConfigError> => {
  if (section === undefined) return Effect.succeed(undefined)
  const rules: PolicyRules = {
    ...(section.read_only !== undefined ? { readOnly: section.read_only } : {}),
    ...(section.allow !== undefined ? { allow: section.allow } : {}),
    ...(section.deny !== undefined ? { deny: section.deny } : {}),
    ...(section.confirm !== undefined ? { confirm: section.confirm } : {}),
    ...(section.upload_allow !== undefined ? { uploadAllow: section.upload_allow } : {}),
    ...(section.upload_deny !== undefined ? { uploadDeny: section.upload_deny } : {}),
    ...(section.tunnels !== undefined ? { tunnels: section.tunnels } : {}),
    ...(section.interactive_keys !== undefined ? { interactiveKeys: section.interactive_keys } : {})
  }
  const compiled = compileRules(rules, `[${key}]`)
  return isRuleError(compiled) ? fail(`${fileName}: ${key}.${compiled.key}: ${compiled.message}`) : Effect.succeed(rules)
}

/** `[group_policy.*]`: each table's rules, for a group that `[groups]` defines. */
export const readGroupPolicies = (
  sections: Readonly<Record<string, PolicySection>> | undefined,
  groups: Readonly<Record<string, ReadonlyArray<string>>>,
  fileName: string
): Effect.Effect<Record<string, PolicyRules>, ConfigError> =>
  Effect.gen(function*() {
    const out: Record<string, PolicyRules> = {}
    for (const [name, section] of Object.entries(sections ?? {})) {
      if (groups[name] === undefined) {
        return yield* fail(`${fileName}: group_policy.${name}: no group "${name}" in [groups]`, "define the group under [groups] first")
      }
      const rules = yield* readPolicy(section, `group_policy.${name}`, fileName)
      if (rules !== undefined) out[name] = rules
    }
    return out
  })
