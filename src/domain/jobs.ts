/**
 * What a job is, as services, tools and library users see it: its status, why we
 * ended it, how it was brought down, the signals we send and its output streams.
 * Each list is written here once; the tools' schemas and the services' types use it.
 *
 * @since 0.1.0
 */
import { Schema, type Redacted } from "effect"

/**
 * `lost`: its channel closed with no word of how it ended (the connection died) and it was
 * not found again; `detached`: found again after that, by its process group, still running
 * on the host, its output no longer ours (signals still reach it through the PID).
 */
export const JobStatus = Schema.Literals(["running", "exited", "killed", "failed", "lost", "detached"])
export type JobStatus = typeof JobStatus.Type

/** Why a job ended (or left us), when we ended it or when its connection died (`connection_lost`). */
export const EndReason = Schema.Literals(["signal", "timeout", "idle-timeout", "removed", "disconnect", "shutdown", "connection_lost"])
export type EndReason = typeof EndReason.Type

/** How a process was brought down by `terminate`. */
export const Termination = Schema.Literals(["already-exited", "term", "kill", "abandoned"])
export type Termination = typeof Termination.Type

/** Signals we accept (names without SIG). */
export const SIGNALS = ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"] as const
export const SignalName = Schema.Literals(SIGNALS)
export type SignalName = typeof SignalName.Type

/** A job's output streams. */
export const StreamName = Schema.Literals(["stdout", "stderr"])
export type StreamName = typeof StreamName.Type

/** What a tail reads: one stream or both, interleaved. */
export const StreamChoice = Schema.Literals(["both", "stdout", "stderr"])
export type StreamChoice = typeof StreamChoice.Type

/**
 * How to signal a process group that runs as root (started with sudo): through
 * sudo, with its password (if one is needed) on stdin.
 */
export interface AsRoot {
  readonly password: Redacted.Redacted<string> | undefined
}
