/**
 * Paths in the configuration: `~` expanded, and where the config file is looked for.
 *
 * @since 0.1.0
 */
import * as path from "node:path"

export const expand = (p: string, home: string) => (p === "~" || p.startsWith("~/") ? path.join(home, p.slice(1)) : p)

export const defaultConfigPath = (env: NodeJS.ProcessEnv, home: string) =>
  path.join(env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : path.join(home, ".config"), "mcp-ssh-live", "config.toml")
