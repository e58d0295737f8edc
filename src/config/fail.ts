/**
 * The one-line `ConfigError` every config problem becomes.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { ConfigError } from "../domain/errors.js"

export const fail = (message: string, hint?: string): Effect.Effect<never, ConfigError> =>
  Effect.fail(new ConfigError(hint === undefined ? { message } : { message, hint }))
