/**
 * mcp-ssh-live as an Effect library: the services behind the MCP server, their
 * live layers and their typed errors. Compose `layerConfig()` (or `layer` with
 * your own `AppConfig`) into your program.
 *
 * @since 0.1.0
 */
export { AppConfig, type AppConfigShape, defaultConfig, defaultLimits, type HostConfig, type HostSource, type Limits, type LogLevel } from "./services/AppConfig.js"
export { type ConnectFailure, type ConnectionInfo, Connections, type ConnectOptions, type UnknownHostKey, type UnknownHostKeyDecision } from "./services/Connections.js"
export * from "./services/errors.js"
export { Exec, type ExecRequest, type ExecResult } from "./services/Exec.js"
export { type HostAuth, type HostEntry, HostRegistry } from "./services/HostRegistry.js"
export {
  type EndReason,
  type HandedOver,
  type JobInfo,
  Jobs,
  type JobStatus,
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
export { KnownHosts } from "./services/KnownHosts.js"
export { ProcessGroups, type Termination } from "./services/ProcessGroups.js"
export { type FileResult, Sftp, type TransferRequest, type TransferResult } from "./services/Sftp.js"
export { layer, layerConfig, type Services } from "./layers/Live.js"
export { makeMcpServer } from "./server.js"
export type { Line, StreamName } from "./output/RingBuffer.js"
export { SIGNALS, type SignalName } from "./ssh/shell.js"
