/**
 * A resource that an ssh2 callback delivers (a channel, a forwarded stream, a remote
 * listener), as a scoped resource that is safe to interrupt: the finalizer that closes it
 * is in the scope before the request is sent, as `NodeSocket.makeNet` does for a socket.
 * Interrupted while the request is out (a timeout, a cancelled call), the scope closes with
 * nothing to close yet; what the server sends afterwards has no taker, and is closed as it
 * arrives.
 *
 * @since 0.3.0
 */
import { Effect, type Exit, type Scope } from "effect"

/**
 * `request` sends the request and calls `done` once with its outcome (from ssh2's callback);
 * a success is closed by `close` when the scope closes, or at once when it came too late.
 */
export const scopedCallback = <A, E>(
  close: (a: A) => void,
  request: (done: (exit: Exit.Exit<A, E>) => void) => void
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.gen(function*() {
    let got: { readonly value: A } | undefined
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (got !== undefined) close(got.value)
      })
    )
    return yield* Effect.callback<A, E>((resume) =>
      request((exit) => {
        if (exit._tag === "Success") {
          got = { value: exit.value }
          if (closed) return close(exit.value)
        }
        resume(exit)
      })
    )
  })
