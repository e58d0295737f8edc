/**
 * The `AppConfig` service now lives in `src/domain/` (jobs and ssh read it too); this
 * re-export keeps the older import path working.
 *
 * @since 0.1.0
 */
export { AppConfig } from "../domain/AppConfig.js"
