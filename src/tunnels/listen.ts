/**
 * A TCP listener on this machine as a scoped resource: listening once acquired, closed
 * (and every connection it accepted destroyed) when its scope closes. Failing to listen is
 * a typed error naming the address.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import { Effect, type Scope } from "effect"
import { BindError, InvalidArgumentError } from "../domain/errors.js"

export interface Listening {
  /** The port listened on (the one the system picked when 0 was asked). */
  readonly port: number
}

const listenError = (address: string, port: number, err: NodeJS.ErrnoException): BindError | InvalidArgumentError => {
  const where = `${address.includes(":") ? `[${address}]` : address}:${port}`
  const bind = { address, port, errno: err.code ?? "", cause: err }
  switch (err.code) {
    case "EADDRINUSE":
      return new BindError({
        message: `bind_port: ${where} is already in use on this machine`,
        hint: "choose another bind_port, or 0 to let the server pick a free one",
        reason: "in-use",
        ...bind
      })
    case "EACCES":
      return new BindError({
        message: `bind_port: ${where}: permission denied`,
        hint: "ports below 1024 need privileges; choose a higher bind_port, or 0",
        reason: "denied",
        ...bind
      })
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new InvalidArgumentError({ message: `bind_address: ${address} is not an address of this machine`, cause: err })
    default:
      return new InvalidArgumentError({ message: `bind_address: cannot listen on ${where}: ${err.message}`, cause: err })
  }
}

/** Listen on `address:port`; `onSocket` gets each connection. Ends with the scope. */
export const listen = (
  address: string,
  port: number,
  onSocket: (socket: net.Socket) => void
): Effect.Effect<Listening, BindError | InvalidArgumentError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: net.Server; readonly sockets: Set<net.Socket>; readonly port: number }, BindError | InvalidArgumentError>((resume) => {
      const sockets = new Set<net.Socket>()
      // Half-open: a client that closes its sending side still gets the answer (as with ssh -L).
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.add(socket)
        socket.once("close", () => sockets.delete(socket))
        onSocket(socket)
      })
      server.once("error", (err) => resume(Effect.fail(listenError(address, port, err))))
      server.listen({ host: address, port, exclusive: true }, () => {
        server.removeAllListeners("error")
        // A later accept error (EMFILE) must not crash the process; the listener goes on.
        server.on("error", () => {})
        const bound = server.address()
        resume(Effect.succeed({ server, sockets, port: typeof bound === "object" && bound !== null ? bound.port : port }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const s of sockets) s.destroy()
      })
  ).pipe(Effect.map(({ port }) => ({ port })))
