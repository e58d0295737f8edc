/**
 * The resolved configuration of a running server, as a service. Its shape, defaults and
 * limits live in `src/domain/`; `src/config/` builds it from defaults, the TOML file and
 * flags (in that order of precedence, lowest first).
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { type AppConfigOverrides, type AppConfigShape, defaultConfig, mergeConfig } from "./config.js"

/** The server's resolved configuration. */
export class AppConfig extends Context.Service<AppConfig, AppConfigShape>()("mcp-ssh-live/AppConfig") {
  /** Defaults overridden by `overrides` (limits merge key by key). */
  static readonly layer = (overrides: AppConfigOverrides = {}) =>
    Layer.succeed(AppConfig)(AppConfig.of(mergeConfig(defaultConfig(), overrides)))
}
