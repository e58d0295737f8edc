/**
 * mcp-ssh-live as an Effect library: the services behind the MCP server, their
 * live layers and their typed errors. Compose `layerConfig()` (or `layer` with
 * your own `AppConfig`) into your program. Nothing here loads the MCP SDK: the
 * server itself is the `mcp-ssh-live/mcp` entry.
 *
 * @since 0.1.0
 */
import { Transfers } from "./services/Transfers.js"

export { type AlgorithmLists, type AppConfigOverrides, type AppConfigShape, defaultConfig, LogLevel, mergeConfig } from "./domain/config.js"
export * from "./domain/errors.js"
export {
  Alias,
  ALIAS_PATTERN,
  ENV_NAME,
  EnvName,
  type HostAuth,
  type HostConfig,
  type HostEntry,
  Hostname,
  HostSource,
  isAlias,
  isEnvName
} from "./domain/hosts.js"
export { type AsRoot, EndReason, JobStatus, SignalName, SIGNALS, StreamChoice, StreamName, Termination } from "./domain/jobs.js"
export {
  check as checkPolicy,
  type CommandAction,
  isShellCommand,
  type PolicyAction,
  type StdinAction,
  type TunnelAction,
  type UploadAction,
  type Verdict
} from "./domain/policy.js"
export {
  combine as combinePolicies,
  type CompiledRules,
  compileRules,
  describePolicy,
  type EffectivePolicy,
  isRuleError,
  type PolicyRules,
  type RuleError
} from "./domain/policyRules.js"
export { readOnlyCommands, readOnlyViolation } from "./domain/readOnly.js"
export { type CommandSpec } from "./domain/readOnlyCommands.js"
export { type BashParser, loadBashParser } from "./domain/bashParser.js"
export { type CommandUnit, parseLine, type ParsedLine } from "./domain/commandLine.js"
export { type TunnelInfo, TunnelKind, type TunnelRequest, type TunnelStatus } from "./domain/tunnels.js"
export { defaultLimits, type LimitKey, Limits, limitSpecs, type LimitSpec } from "./domain/limits.js"
export { AppConfig } from "./domain/AppConfig.js"
export {
  type ConnectFailure,
  type ConnectionInfo,
  Connections,
  type ConnectOptions,
  type Endpoint,
  type RemoteListener,
  type UnknownHostKey,
  type UnknownHostKeyDecision
} from "./services/Connections.js"
export { Exec, type ExecRequest, type ExecResult } from "./services/Exec.js"
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_HOST_TIMEOUT_MS,
  ExecMany,
  type ExecManyRequest,
  type ExecManyResult,
  type HostResult,
  isOk,
  MAX_CONCURRENCY
} from "./services/ExecMany.js"
export { HostRegistry } from "./services/HostRegistry.js"
export { type Connected, type ConnectRequest, type Disconnected, Hosts, type HostStatus } from "./services/Hosts.js"
export {
  type HandedOver,
  type JobInfo,
  Jobs,
  type LineMatcher,
  type OutputSink,
  type Progress,
  type RunningCommand,
  type RunRequest,
  type SignalResult,
  type SpawnError,
  type SpawnRequest,
  type TailRequest,
  type TailResult
} from "./services/Jobs.js"
export { Policy, type PolicyDecision } from "./services/Policy.js"
export { ProcessGroups } from "./jobs/ProcessGroups.js"
export { KnownHosts } from "./ssh/KnownHosts.js"
export { type FileResult, type TransferRequest, type TransferResult, Transfers } from "./services/Transfers.js"
/**
 * @deprecated renamed `Transfers`: it moves trees as tar over exec as well as files over SFTP.
 * The old name goes in the next release.
 */
export const Sftp = Transfers
/** @deprecated `Transfers`. */
export type Sftp = Transfers
export { type TunnelOpenError, Tunnels } from "./services/Tunnels.js"
export { layer, layerConfig, type Services } from "./layers/Live.js"
export type { Line } from "./output/RingBuffer.js"
