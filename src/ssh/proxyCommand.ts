/**
 * ProxyCommand as OpenSSH runs it: `$SHELL -c "exec <command>"` (tokens already expanded
 * by the configuration), its stdin and stdout the SSH transport, its stderr kept (the
 * last `STDERR_CAP` bytes) for the error when it fails. It is a scoped resource: it is
 * hung up (SIGHUP, then SIGKILL) when its connection's scope closes.
 *
 * @since 0.2.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Duplex } from "node:stream"
import { Deferred, Effect, Exit, type Scope } from "effect"
import { ConnectError } from "../domain/errors.js"

/** What of a failing command's stderr goes into the error (its end: where the reason usually is). */
export const STDERR_CAP = 2048

export interface ProxyProcess {
  /** stdout as the readable side, stdin as the writable side. */
  readonly stream: Duplex
  /** Done when the command has exited: its status, or the signal that ended it. */
  readonly exited: Deferred.Deferred<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** The last `STDERR_CAP` bytes it wrote to stderr. */
  stderr(): string
  /** Hang it up now (the connection closed). */
  hangUp(): void
}

const hangUp = (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGHUP")
  const timer = setTimeout(() => child.kill("SIGKILL"), 1000)
  timer.unref()
  child.once("exit", () => clearTimeout(timer))
}

/** Start `command`; fails when it cannot be started at all. */
export const spawnProxy = (command: string): Effect.Effect<ProxyProcess, ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<ProxyProcess, ConnectError>((resume) => {
      const shell = process.env.SHELL !== undefined && process.env.SHELL !== "" ? process.env.SHELL : "/bin/sh"
      const child = spawn(shell, ["-c", `exec ${command}`], { stdio: ["pipe", "pipe", "pipe"] })
      const exited = Deferred.makeUnsafe<{ code: number | null; signal: NodeJS.Signals | null }>()
      let err = Buffer.alloc(0)
      child.stderr.on("data", (d: Buffer) => {
        err = Buffer.concat([err, d])
        if (err.length > STDERR_CAP) err = err.subarray(err.length - STDERR_CAP)
      })
      child.on("exit", (code, signal) => Deferred.doneUnsafe(exited, Exit.succeed({ code, signal })))
      child.once("error", (e) => resume(Effect.fail(new ConnectError({ message: `ProxyCommand could not start: ${e.message}` }))))
      child.once("spawn", () => {
        const stream = Duplex.from({ readable: child.stdout, writable: child.stdin })
        // The command ending closes the transport (ssh2 sees the end; `proxyFailure` explains it):
        // its pipes' errors (EPIPE, premature close) have a listener for the whole life, even
        // before ssh2 attaches its own or after it let go, or they would take the process down.
        child.stdin.on("error", () => {})
        stream.on("error", () => {})
        // Its output read to the end and the command gone: the transport is closed (ssh2 waits otherwise).
        child.once("close", () => stream.destroy())
        resume(Effect.succeed({ stream, exited, stderr: () => err.toString("utf8"), hangUp: () => hangUp(child) }))
      })
    }),
    (proxy) =>
      Effect.sync(() => proxy.hangUp()).pipe(
        Effect.andThen(Deferred.await(proxy.exited).pipe(Effect.timeout("2 seconds"), Effect.ignore))
      )
  )

/**
 * The error for a connection through `proxy` that failed before it was ready: the command's
 * exit status and stderr when it ended (or said something), else `failure` as it was.
 */
export const proxyFailure = <E>(proxy: ProxyProcess, failure: E): Effect.Effect<E | ConnectError> =>
  Effect.gen(function*() {
    // The transport closes as the command exits: give its exit a moment to be seen.
    const status = yield* Deferred.await(proxy.exited).pipe(Effect.timeout("1 second"), Effect.option)
    const stderr = proxy.stderr().trim()
    if (status._tag === "None" && stderr === "") return failure
    const how = status._tag === "None"
      ? "is still running but the SSH handshake failed"
      : status.value.code !== null ? `exited with status ${status.value.code}` : `was killed by ${status.value.signal}`
    return new ConnectError({
      message: `ProxyCommand ${how}${stderr !== "" ? `; its stderr (last ${STDERR_CAP} bytes at most): ${stderr}` : " and wrote nothing to stderr"}`,
      hint: "the command is the operator's (ssh_config ProxyCommand or proxy_command in the config file): run it by hand to see why"
    })
  })
