/**
 * The live services, composed. Provide an `AppConfig` (or use `layerConfig`) and
 * get every service; closing the layer's scope stops running jobs (TERM → grace →
 * KILL) before the connections close.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { AppConfigOverrides } from "../domain/config.js"
import { AppConfig } from "../domain/AppConfig.js"
import type { ConfigError } from "../domain/errors.js"
import { Connections } from "../services/Connections.js"
import { Exec } from "../services/Exec.js"
import { ExecMany } from "../services/ExecMany.js"
import { HostRegistry } from "../services/HostRegistry.js"
import { Hosts } from "../services/Hosts.js"
import { Jobs } from "../services/Jobs.js"
import { Policy } from "../services/Policy.js"
import { ProcessGroups } from "../jobs/ProcessGroups.js"
import { KnownHosts } from "../ssh/KnownHosts.js"
import { Transfers } from "../services/Transfers.js"
import { Tunnels } from "../services/Tunnels.js"
import { remoteHostsLayer } from "./RemoteHosts.js"

/** Every service this package provides. */
export type Services = HostRegistry | KnownHosts | Connections | ProcessGroups | Exec | ExecMany | Jobs | Transfers | Hosts | Policy | Tunnels

/** All services over a given `AppConfig`; fails with `ConfigError` when its policy rules do not compile. */
export const layer: Layer.Layer<Services, ConfigError, AppConfig> = Layer.mergeAll(ExecMany.layer.pipe(Layer.provideMerge(Exec.layer)), Transfers.layer, Hosts.layer, Policy.layer).pipe(
  Layer.provideMerge(Tunnels.layer),
  Layer.provideMerge(Jobs.layer),
  Layer.provideMerge(ProcessGroups.layer),
  Layer.provideMerge(remoteHostsLayer),
  Layer.provideMerge(Connections.layer),
  Layer.provideMerge(Layer.mergeAll(HostRegistry.layer, KnownHosts.layer))
)

/** All services and the `AppConfig` built from defaults and `overrides`. */
export const layerConfig = (
  overrides: AppConfigOverrides = {}
): Layer.Layer<Services | AppConfig, ConfigError> => layer.pipe(Layer.provideMerge(AppConfig.layer(overrides)))
