/**
 * One SSH connection as a scoped resource: the ssh2 handshake (host key checked by
 * `hostKeyPolicy` before any credential from `auth` is sent), ended when its scope
 * closes. A ProxyJump chain is nested connections in one scope: each hop runs over a
 * channel forwarded by the one before, and they end in reverse order.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"
import { Context, Deferred, Effect, Exit, FiberSet, Layer, Queue, type Scope } from "effect"
import ssh2, { type Client, type SFTPWrapper } from "ssh2"
import { AppConfig } from "../domain/AppConfig.js"
import { ConnectError, type ConnectFailure, type HostKeyMismatchError, type HostKeyUnknownError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import { defaultAlgorithms, ssh2Algorithms } from "./algorithms.js"
import { authAttempts, authHandler, type AuthHandler, type AuthProgress } from "./auth.js"
import { type AskUnknownHostKey, decideHostKey, type HostKeyPolicy } from "./hostKeyPolicy.js"
import { KnownHosts } from "./KnownHosts.js"
import type { RemoteChannel } from "./RemoteChannel.js"
import { guarded } from "./listeners.js"
import { connectFailure } from "./sshErrors.js"

/** A channel's end, as the pool counts it. */
export interface ClosingChannel {
  on(event: "close", listener: () => void): unknown
}

/** An open SSH connection. */
export interface SshConnection {
  /** The method that authenticated: publickey, password, keyboard-interactive, agent. */
  readonly authMethod: string
  /** SHA256 fingerprint of the server's host key. */
  readonly hostKeyFingerprint: string
  /** The server's identification string, e.g. `OpenSSH_9.2p1 Debian-2`. */
  readonly serverBanner: string
  /** Done once the connection has closed (ended by us or dropped). */
  readonly closed: Deferred.Deferred<void>
  /** Open an exec channel; throws when the connection is gone (as ssh2 does). */
  exec(command: string, pty: boolean, cb: (err: Error | undefined, channel: RemoteChannel & ClosingChannel) => void): void
  /** Open an SFTP session; throws when the connection is gone. */
  sftp(cb: (err: Error | undefined, sftp: SFTPWrapper) => void): void
  /** A TCP stream from the host to `host:port` (`ssh -L`'s direct-tcpip channel); throws when the connection is gone. */
  forwardOut(host: string, port: number, origin: Endpoint, cb: (err: Error | undefined, stream: Duplex) => void): void
  /**
   * Ask sshd to listen on `address:port` on the host (`ssh -R`; port 0 lets it pick): `cb` gets the
   * port, and each connection made to it goes to `onConnection`. Throws when the connection is gone.
   */
  forwardIn(address: string, port: number, onConnection: (stream: Duplex, origin: Endpoint) => void, cb: (err: Error | undefined, port: number) => void): void
  /** Stop listening on `address:port` (best effort: nothing happens when the connection is gone). */
  unforwardIn(address: string, port: number): void
}

/** An address and port, as in a forwarding request. */
export interface Endpoint {
  readonly address: string
  readonly port: number
}

export interface OpenOptions {
  /** Asked when the host key is unknown (e.g. MCP elicitation); without it the key is refused. */
  readonly onUnknownHostKey?: AskUnknownHostKey | undefined
}

export class SshClient extends Context.Service<SshClient, {
  /** Connect to `entry` (through its ProxyJump chain when it has one); the connection ends with the scope. */
  open(entry: HostEntry, options?: OpenOptions): Effect.Effect<SshConnection, ConnectFailure, Scope.Scope>
}>()("mcp-ssh-live/SshClient") {
  static readonly layer = Layer.effect(SshClient)(Effect.gen(function*() {
    const config = yield* AppConfig
    const knownHosts = yield* KnownHosts
    /** What we offer: our defaults (no weak algorithms) unless the operator listed others. */
    const algorithms = { ...defaultAlgorithms, ...config.algorithms }

    /** One handshake, over TCP or over `sock` (a jump host's forwarded channel). */
    const hop = (entry: HostEntry, options: OpenOptions | undefined, sock: Duplex | undefined) =>
      Effect.gen(function*() {
        const attempts = yield* authAttempts(entry)
        const knownTypes = yield* knownHosts.knownTypes(entry.address, entry.port)
        const closed = Deferred.makeUnsafe<void>()
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const c = new ssh2.Client()
            c.on("close", () => Deferred.doneUnsafe(closed, Exit.void))
            return c
          }),
          (c) =>
            Effect.sync(() => c.end()).pipe(
              Effect.andThen(Deferred.await(closed).pipe(Effect.timeout("2 seconds"), Effect.ignore)),
              Effect.andThen(Effect.sync(() => c.destroy()))
            )
        )
        // ssh2 asks about the host key from a callback, at the handshake and again at each
        // re-key: the decisions are made in a fiber of this connection's scope, in order.
        const offers = yield* Queue.unbounded<{ readonly key: Buffer; readonly verify: (ok: boolean) => void }>()
        const policy: HostKeyPolicy = {
          store: knownHosts,
          allowAgentInsecureAutoAdd: config.allowAgentInsecureAutoAdd,
          ask: options?.onUnknownHostKey
        }
        let hostKeyFailure: HostKeyUnknownError | HostKeyMismatchError | undefined
        let fingerprint = ""
        yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
          const { key, verify } = yield* Queue.take(offers)
          const decided = yield* Effect.exit(decideHostKey(policy, entry, key))
          if (Exit.isFailure(decided)) return verify(false)
          const verdict = decided.value
          fingerprint = verdict.fingerprint
          if (!verdict.accept) hostKeyFailure = verdict.failure
          verify(verdict.accept)
        })))
        // ssh2 reports a connection's later errors from a callback: log them in fibers of its scope.
        const runInScope = yield* FiberSet.makeRuntime()
        const progress: AuthProgress = { tried: [], lastMethod: "none" }
        // A person may be asked about the host key mid-handshake: give them time to answer.
        const readyTimeout = config.limits.connectTimeoutMs + (options?.onUnknownHostKey !== undefined ? 300_000 : 0)
        yield* Effect.callback<void, ConnectFailure>((resume) => {
          let settled = false
          // ssh2 calls these from its parser: nothing they throw may escape there.
          const safe = guarded((e) => {
            settled = true
            resume(Effect.fail(new ConnectError({ message: `${entry.user}@${entry.address}:${entry.port}: ${e instanceof Error ? e.message : String(e)}` })))
          })
          const fail = (err: Error & { level?: string; code?: string | number }) => {
            client.removeAllListeners("ready")
            if (hostKeyFailure !== undefined) return resume(Effect.fail(hostKeyFailure))
            resume(Effect.fail(connectFailure(err, `${entry.user}@${entry.address}:${entry.port}`, readyTimeout, progress.tried)))
          }
          const onClose = () => fail(new Error("connection closed during setup"))
          // One 'error' listener for the client's whole life: ssh2 can emit more than one (a
          // failed handshake, then the peer's reset), and an error with no listener left
          // would throw and take the whole process down.
          client.on("error", safe((err: Error) => {
            if (!settled) {
              settled = true
              return fail(err)
            }
            runInScope(Effect.logWarning(`connection ${entry.alias}: ${err.message}`))
          }))
          client.once("close", safe(() => {
            if (!settled) {
              settled = true
              onClose()
            }
          }))
          client.once("ready", safe(() => {
            if (settled) return
            settled = true
            resume(Effect.void)
          }))
          try {
            client.connect({
              ...(sock === undefined ? { host: entry.address, port: entry.port } : { sock }),
              username: entry.user,
              readyTimeout,
              keepaliveInterval: entry.keepaliveIntervalMs ?? config.limits.keepaliveIntervalMs,
              keepaliveCountMax: 3,
              // Host-key algorithms of the key types known for this host first, as OpenSSH orders them.
              algorithms: ssh2Algorithms(algorithms, knownTypes),
              // Returns nothing: ssh2 takes a returned value as the verdict itself.
              hostVerifier: (key: Buffer, verify: (ok: boolean) => void): void => {
                Queue.offerUnsafe(offers, { key, verify })
              },
              authHandler: safeAuthHandler(authHandler(attempts, progress))
            })
            // Small writes (channel opens, exec requests, stdin) must not wait for Nagle and
            // delayed ACKs: that cost ~40-80 ms per request on loopback.
            client.setNoDelay(true)
          } catch (e) {
            // ssh2 throws synchronously on settings it cannot use.
            settled = true
            fail(e instanceof Error ? e : new Error(String(e)))
          }
        })
        return { conn: connection(client, closed, progress.lastMethod, fingerprint), client }
      })

    /** A channel from `via` to host:port, to run the next handshake over. */
    const forward = (via: Client, entry: HostEntry) =>
      Effect.callback<Duplex, ConnectError>((resume) => {
        via.forwardOut("127.0.0.1", 0, entry.address, entry.port, (err, stream) =>
          err !== undefined && err !== null
            ? resume(Effect.fail(new ConnectError({ message: `jump host cannot reach ${entry.address}:${entry.port}: ${err.message}` })))
            : resume(Effect.succeed(stream)))
      })

    const open = (entry: HostEntry, options?: OpenOptions) =>
      Effect.gen(function*() {
        let sock: Duplex | undefined
        const jumps = entry.proxyJump ?? []
        for (const [i, jump] of jumps.entries()) {
          const via = yield* hop(jump, options, sock)
          yield* Effect.logInfo(`jump host ${jump.user}@${jump.address}:${jump.port} connected for ${entry.alias}`)
          sock = yield* forward(via.client, jumps[i + 1] ?? entry)
        }
        const target = (yield* hop(entry, options, sock)).conn
        yield* Effect.logInfo(`connected ${entry.alias}: ${entry.user}@${entry.address}:${entry.port} via ${target.authMethod}`)
        return target
      })

    return SshClient.of({ open })
  }))
}

/** `handler`, but a throw (ssh2 calls it from its parser) ends authentication instead of the process. */
const safeAuthHandler = (handler: AuthHandler): AuthHandler => (methodsLeft, partialSuccess, next) => {
  let called = false
  const once = (auth: Parameters<typeof next>[0]) => {
    called = true
    next(auth)
  }
  try {
    handler(methodsLeft, partialSuccess, once)
  } catch {
    if (!called) next(false)
  }
}

/** The server's identification string: ssh2 exposes it only in a private field (see src/ssh/ssh2.d.ts). */
const serverBanner = (client: Client): string => client._remoteVer ?? ""

const connection = (client: Client, closed: Deferred.Deferred<void>, authMethod: string, hostKeyFingerprint: string): SshConnection => {
  // One listener for every remote forward of this connection, by the address sshd names.
  const listeners = new Map<string, (stream: Duplex, origin: Endpoint) => void>()
  client.on("tcp connection", (info, accept, reject) => {
    const listener = listeners.get(`${info.destIP}:${info.destPort}`)
    if (listener === undefined) return reject()
    let stream: Duplex | undefined
    // Called from ssh2's parser: a throw here would end the process; it ends this connection instead.
    try {
      stream = accept()
      listener(stream, { address: info.srcIP, port: info.srcPort })
    } catch {
      stream?.destroy()
    }
  })
  return {
    authMethod,
    hostKeyFingerprint,
    serverBanner: serverBanner(client),
    closed,
    exec: (command, pty, cb) => {
      if (pty) client.exec(command, { pty: { term: "xterm", rows: 40, cols: 200 } }, cb)
      else client.exec(command, cb)
    },
    sftp: (cb) => client.sftp(cb),
    forwardOut: (host, port, origin, cb) => client.forwardOut(origin.address, origin.port, host, port, cb),
    forwardIn: (address, port, onConnection, cb) =>
      client.forwardIn(address, port, (err, bound) => {
        if (err === undefined || err === null) listeners.set(`${address}:${bound}`, onConnection)
        cb(err ?? undefined, bound)
      }),
    unforwardIn: (address, port) => {
      listeners.delete(`${address}:${port}`)
      try {
        client.unforwardIn(address, port, () => {})
      } catch {
        // Not connected: sshd has dropped the listener with the connection.
      }
    }
  }
}
