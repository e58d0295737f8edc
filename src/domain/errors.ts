/**
 * Typed errors of the domain. Every error carries a stable `code` (what an agent
 * matches on), a `message` for humans and an optional `hint` saying what to do; the
 * fields a program matches on (the host, the job id, the limit, the errno, why) are data,
 * and the failure underneath, when there is one, is its `cause`. An agent sees only
 * `CODE: message (hint: …)`. No error ever carries a secret.
 *
 * Each code is written once, in its class; `domainErrors` lists the classes, and
 * `SshLiveError` and `ErrorCode` are derived from that list.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const fields = {
  message: Schema.String,
  hint: Schema.optionalKey(Schema.String),
  /** The failure underneath (an ssh2 or Node error, a lower-level typed error); never shown to the agent. */
  cause: Schema.optionalKey(Schema.Defect())
}

/** The alias a failure is about. */
const host = { host: Schema.optionalKey(Schema.String) }

/** No host by that alias, or no host given and no default host. */
export class HostNotFoundError extends Schema.TaggedError<HostNotFoundError>()("HostNotFoundError", { ...fields, ...host }) {
  readonly code = "HOST_NOT_FOUND" as const
}

/** An alias is already registered with other settings. */
export class HostExistsError extends Schema.TaggedError<HostExistsError>()("HostExistsError", { ...fields, ...host }) {
  readonly code = "HOST_EXISTS" as const
}

/** TCP or SSH transport failure (refused, unreachable, handshake failed, closed). */
export class ConnectError extends Schema.TaggedError<ConnectError>()("ConnectError", { ...fields, ...host }) {
  readonly code = "CONNECT_FAILED" as const
}

/**
 * The server asked a keyboard-interactive question (a one-time code) that nobody could
 * answer: the client cannot elicit, the person declined, or a background reconnect.
 */
export class AuthPromptUnansweredError extends Schema.TaggedError<AuthPromptUnansweredError>()("AuthPromptUnansweredError", { ...fields, ...host }) {
  readonly code = "AUTH_PROMPT_UNANSWERED" as const
}

/** The server rejected every authentication method we tried. */
export class AuthError extends Schema.TaggedError<AuthError>()("AuthError", { ...fields, ...host }) {
  readonly code = "AUTH_FAILED" as const
}

/** The server's host key is not in known_hosts. */
export class HostKeyUnknownError extends Schema.TaggedError<HostKeyUnknownError>()("HostKeyUnknownError", {
  ...fields,
  ...host,
  fingerprint: Schema.String
}) {
  readonly code = "HOST_KEY_UNKNOWN" as const
}

/** The server's host key differs from the one recorded: always refused. */
export class HostKeyMismatchError extends Schema.TaggedError<HostKeyMismatchError>()("HostKeyMismatchError", {
  ...fields,
  ...host,
  fingerprint: Schema.String
}) {
  readonly code = "HOST_KEY_MISMATCH" as const
}

/** A channel (exec, sftp) could not be opened or failed mid-way. */
export class ChannelError extends Schema.TaggedError<ChannelError>()("ChannelError", fields) {
  readonly code = "CHANNEL_FAILED" as const
}

/** An operation ran out of time (connect, handshake). */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", { ...fields, ...host }) {
  readonly code = "TIMEOUT" as const
}

/** An argument is well-typed but unusable (bad env name, bad regex, …). */
export class InvalidArgumentError extends Schema.TaggedError<InvalidArgumentError>()("InvalidArgumentError", fields) {
  readonly code = "INVALID_ARGUMENT" as const
}

/** No job by that id. */
export class JobNotFoundError extends Schema.TaggedError<JobNotFoundError>()("JobNotFoundError", { ...fields, jobId: Schema.optionalKey(Schema.String) }) {
  readonly code = "JOB_NOT_FOUND" as const
}

/** The job is still running and the operation needs it ended (or `force`). */
export class JobRunningError extends Schema.TaggedError<JobRunningError>()("JobRunningError", { ...fields, jobId: Schema.optionalKey(Schema.String) }) {
  readonly code = "JOB_RUNNING" as const
}

/** A configured limit (jobs per host, …) would be exceeded: `limit` is its key in `[limits]`, `max` its value. */
export class LimitReachedError extends Schema.TaggedError<LimitReachedError>()("LimitReachedError", {
  ...fields,
  ...host,
  limit: Schema.optionalKey(Schema.String),
  max: Schema.optionalKey(Schema.Number)
}) {
  readonly code = "LIMIT_REACHED" as const
}

/** An SFTP operation failed. */
export class SftpError extends Schema.TaggedError<SftpError>()("SftpError", fields) {
  readonly code = "SFTP_FAILED" as const
}

/** The sha256 of a transferred file differs between both ends. */
export class ChecksumMismatchError extends Schema.TaggedError<ChecksumMismatchError>()("ChecksumMismatchError", fields) {
  readonly code = "CHECKSUM_MISMATCH" as const
}

/** sudo needs a password and the host has none configured. */
export class SudoPasswordRequiredError
  extends Schema.TaggedError<SudoPasswordRequiredError>()("SudoPasswordRequiredError", fields)
{
  readonly code = "SUDO_PASSWORD_REQUIRED" as const
}

/** sudo rejected the configured password. */
export class SudoAuthError extends Schema.TaggedError<SudoAuthError>()("SudoAuthError", fields) {
  readonly code = "SUDO_AUTH_FAILED" as const
}

/** The configuration (flags, file, environment) is invalid. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", fields) {
  readonly code = "CONFIG_INVALID" as const
}

/**
 * Who said no: a `deny` rule of the operator's policy, or the human asked by a `confirm` rule,
 * who refused or cancelled (on a 2026-07-28 call, a question still pending reads as cancelled).
 */
export const PolicyDenial = Schema.Literals(["rule", "user-refused", "user-cancelled"])
export type PolicyDenial = typeof PolicyDenial.Type

/** The operator's policy refuses the action (the message names the rule), or the human said no (`by`). */
export class PolicyDeniedError extends Schema.TaggedError<PolicyDeniedError>()("PolicyDeniedError", {
  ...fields,
  ...host,
  by: PolicyDenial
}) {
  readonly code = "POLICY_DENIED" as const
}

/** A policy rule wants the human to confirm, and the client cannot ask (no form elicitation). */
export class ConfirmationUnavailableError
  extends Schema.TaggedError<ConfirmationUnavailableError>()("ConfirmationUnavailableError", fields)
{
  readonly code = "CONFIRMATION_UNAVAILABLE" as const
}

/** Why a local port could not be listened on: taken (EADDRINUSE), or not ours to take (EACCES: a privileged port). */
export const BindFailure = Schema.Literals(["in-use", "denied"])
export type BindFailure = typeof BindFailure.Type

const bindCodes = { "in-use": "PORT_IN_USE", denied: "PORT_DENIED" } as const

/** A local port a tunnel was to listen on is taken (`PORT_IN_USE`), or not ours to take (`PORT_DENIED`). */
export class BindError extends Schema.TaggedError<BindError>()("BindError", {
  ...fields,
  reason: BindFailure,
  address: Schema.String,
  port: Schema.Number,
  errno: Schema.String
}) {
  get code(): (typeof bindCodes)[BindFailure] {
    return bindCodes[this.reason]
  }
}

/**
 * @deprecated `BindError` (reason `"in-use"`, tag `"BindError"`), which also reports a denied port;
 * this type name is kept for one release for library users.
 */
export type PortInUseError = BindError

/**
 * sshd refused a forwarding: to listen on the host (`ssh -R`: AllowTcpForwarding, the port
 * taken there, a privileged port) or to connect to a target (`reason`: RFC 4254 §5.1 code).
 */
export class ForwardRefusedError extends Schema.TaggedError<ForwardRefusedError>()("ForwardRefusedError", {
  ...fields,
  reason: Schema.optionalKey(Schema.Number)
}) {
  readonly code = "FORWARD_REFUSED" as const
}

/** No tunnel by that id. */
export class TunnelNotFoundError extends Schema.TaggedError<TunnelNotFoundError>()("TunnelNotFoundError", fields) {
  readonly code = "TUNNEL_NOT_FOUND" as const
}

/** A signal reached no process: the job had ended, or its process group is gone from the host. */
export class SignalNotDeliveredError extends Schema.TaggedError<SignalNotDeliveredError>()("SignalNotDeliveredError", {
  ...fields,
  jobId: Schema.optionalKey(Schema.String)
}) {
  readonly code = "SIGNAL_NOT_DELIVERED" as const
}

/**
 * The host's connection dropped and is being re-established in the background: calls fail
 * at once with the reconnect's state instead of waiting out its backoff.
 */
export class HostDownError extends Schema.TaggedError<HostDownError>()("HostDownError", { ...fields, ...host }) {
  readonly code = "HOST_DOWN" as const
}

/** A tmux job or pane was asked for on a host without tmux. */
export class TmuxUnavailableError extends Schema.TaggedError<TmuxUnavailableError>()("TmuxUnavailableError", fields) {
  readonly code = "TMUX_UNAVAILABLE" as const
}

/**
 * A helper command of ours (a listing, a hash, tar) printed more than its cap: a hostile host,
 * shell start-up files that print, or a tree larger than `max_listing_bytes`. We stop reading
 * it; the message names the step and the cap.
 */
export class RemoteOutputTooLargeError
  extends Schema.TaggedError<RemoteOutputTooLargeError>()("RemoteOutputTooLargeError", fields)
{
  readonly code = "REMOTE_OUTPUT_TOO_LARGE" as const
}

/**
 * A local path a transfer names is outside `[server] local_roots`, or inside what is never
 * touched (/proc, /sys, /dev, ~/.ssh, the server's own files); the message names the rule.
 */
export class LocalPathDeniedError extends Schema.TaggedError<LocalPathDeniedError>()("LocalPathDeniedError", fields) {
  readonly code = "LOCAL_PATH_DENIED" as const
}

/**
 * The audit log could not be written, so the call was not run (`[audit]`: no call runs
 * unrecorded); `cause` is the write's failure.
 */
export class AuditLogError extends Schema.TaggedError<AuditLogError>()("AuditLogError", fields) {
  readonly code = "AUDIT_LOG_FAILED" as const
}

/** Every domain error class, once: the table the error union and the codes come from. */
export const domainErrors = [
  HostNotFoundError,
  HostExistsError,
  ConnectError,
  AuthError,
  HostKeyUnknownError,
  HostKeyMismatchError,
  ChannelError,
  TimeoutError,
  InvalidArgumentError,
  JobNotFoundError,
  JobRunningError,
  LimitReachedError,
  SftpError,
  ChecksumMismatchError,
  SudoPasswordRequiredError,
  SudoAuthError,
  ConfigError,
  PolicyDeniedError,
  ConfirmationUnavailableError,
  BindError,
  ForwardRefusedError,
  TunnelNotFoundError,
  SignalNotDeliveredError,
  HostDownError,
  TmuxUnavailableError,
  AuthPromptUnansweredError,
  RemoteOutputTooLargeError,
  LocalPathDeniedError,
  AuditLogError
] as const

/** Every domain error: each has a `code`, a `message` and maybe a `hint`. */
export type SshLiveError = InstanceType<(typeof domainErrors)[number]>

/** The stable error codes reported to MCP clients. */
export type ErrorCode = SshLiveError["code"]

/** Why a connection to a host could not be had. */
export type ConnectFailure =
  | HostNotFoundError
  | ConnectError
  | AuthError
  | AuthPromptUnansweredError
  | HostKeyUnknownError
  | HostKeyMismatchError
  | TimeoutError
  | HostDownError
