/**
 * `[groups]`: named lists of host aliases for ssh_exec_many.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ConfigError } from "../domain/errors.js"
import type { HostConfig } from "../domain/hosts.js"
import type { ConfigFile } from "./configFile.js"
import { fail } from "./fail.js"

/** The file's groups, each member deduplicated; a member that is no defined host fails. */
export const readGroups = (
  section: ConfigFile["groups"],
  hosts: ReadonlyMap<string, HostConfig>,
  fileName: string
): Effect.Effect<Record<string, ReadonlyArray<string>>, ConfigError> =>
  Effect.gen(function*() {
    const groups: Record<string, ReadonlyArray<string>> = {}
    // Groups name hosts defined up front (file or flags): a typo is caught now, not at the first ssh_exec_many.
    for (const [name, members] of Object.entries(section ?? {})) {
      const unknown = members.find((alias) => !hosts.has(alias))
      if (unknown !== undefined) {
        return yield* fail(
          `${fileName}: groups.${name}: "${unknown}" is not a host alias`,
          "define it under [hosts.<alias>] or with --host; hosts added at runtime join groups by ssh_connect's groups"
        )
      }
      groups[name] = [...new Set(members)]
    }
    return groups
  })
