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
import ssh2, { type Client, type ClientChannel, type SFTPWrapper } from "ssh2"
import { AppConfig } from "../domain/AppConfig.js"
import {
  AuthError,
  AuthPromptUnansweredError,
  ConnectError,
  type ConnectFailure,
  type HostKeyMismatchError,
  type HostKeyUnknownError
} from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import { defaultAlgorithms, ssh2Algorithms } from "./algorithms.js"
import { authAttempts, authHandler, type AuthHandler, type AuthProgress } from "./auth.js"
import { openExecChannel } from "./execChannel.js"
import { type AskUnknownHostKey, decideHostKey, type HostKeyPolicy } from "./hostKeyPolicy.js"
import type { AuthQuestion, KeyboardHooks, Unanswered } from "./keyboardInteractive.js"
import { fingerprintSha256, KnownHosts } from "./KnownHosts.js"
import { type ProxyProcess, proxyFailure, spawnProxy } from "./proxyCommand.js"
import type { RemoteChannel } from "./RemoteChannel.js"
import { type ExecOptions, PTY_SIZE } from "./RemoteHosts.js"
import { guarded } from "./listeners.js"
import { scopedCallback } from "./scopedCallback.js"
import { reusingSocket } from "./receiveBuffers.js"
import { reuseSendBuffers } from "./sendBuffers.js"
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
  exec(command: string, options: ExecOptions, cb: (err: Error | undefined, channel: RemoteChannel & ClosingChannel) => void): void
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
  /**
   * Asked for the answers to keyboard-interactive prompts other than the password (a one-time
   * code): the answers in order, or undefined when the person gave none. Without it such a
   * prompt fails the handshake with AUTH_PROMPT_UNANSWERED. The handshake timeout waits meanwhile.
   */
  readonly onAuthPrompt?: ((question: AuthQuestion) => Effect.Effect<ReadonlyArray<string> | undefined>) | undefined
}

/** The failure for a prompt nobody answered, naming it (quoted: it is the server's text). */
const unansweredFailure = (where: string, prompt: string, why: Unanswered, tried: ReadonlyArray<string>): AuthError | AuthPromptUnansweredError =>
  why === "password"
    ? new AuthError({
      message: `authentication failed for ${where}; tried: ${tried.join(", ")}; the server asks for a password (${JSON.stringify(prompt)}) and none was given`,
      hint: "give password (or password_env in the config file; it is never asked of the user), or a key the server accepts"
    })
    : new AuthPromptUnansweredError({
      message: `${where} asks ${JSON.stringify(prompt)} (keyboard-interactive, e.g. a one-time code) and ${
        why === "declined" ? "the user gave no answer" : "there is no one to ask here"
      }`,
      hint: why === "declined"
        ? "call ssh_connect again when the user can answer"
        : "call ssh_connect from a client that supports elicitation (the user is asked for the code); a background reconnect cannot ask"
    })

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
        const where = `${entry.user}@${entry.address}:${entry.port}`
        // Set when a prompt cannot be answered: the handshake is ended and fails with it.
        let authFailure: AuthError | AuthPromptUnansweredError | undefined
        let stop: () => void = () => {}
        // The handshake timeout, ours rather than ssh2's: it waits while a person is asked.
        const clock = handshakeClock()
        const runAsk = yield* FiberSet.makeRuntime()
        const ask = options?.onAuthPrompt
        const hooks: KeyboardHooks = {
          ask: ask === undefined ? undefined : (question, answer) => {
            clock.pause()
            runAsk(ask(question).pipe(
              Effect.exit,
              Effect.map((exit) => {
                clock.resume()
                answer(Exit.isSuccess(exit) ? exit.value : undefined)
              })
            ))
          },
          unanswered: (prompt, why) => {
            authFailure = unansweredFailure(where, prompt, why, progress.tried)
            stop()
          }
        }
        const attempts = yield* authAttempts(entry, hooks)
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
        // re-key. The handshake's is decided in a fiber of this connection's scope (known_hosts
        // is read, a person may be asked); the key it accepted is kept, and a re-key's is
        // answered at once against it (see `hostVerifier` below).
        const offers = yield* Queue.unbounded<{ readonly key: Buffer; readonly verify: (ok: boolean) => void }>()
        let accepted: Buffer | undefined
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
          // A copy: ssh2 may hand a view of a socket read's memory (receiveBuffers.ts).
          else accepted = Buffer.from(key)
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
            clock.stop()
            client.removeAllListeners("ready")
            if (hostKeyFailure !== undefined) return resume(Effect.fail(hostKeyFailure))
            if (authFailure !== undefined) return resume(Effect.fail(authFailure))
            resume(Effect.fail(connectFailure(err, where, readyTimeout, progress.tried)))
          }
          stop = () => client.end()
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
            clock.stop()
            if (settled) return
            settled = true
            resume(Effect.void)
          }))
          clock.start(readyTimeout, safe(() => {
            if (settled) return
            settled = true
            fail(Object.assign(new Error("Timed out while waiting for handshake"), { level: "client-timeout" }))
            client.destroy()
          }))
          // A direct TCP connection reads into reused buffers (receiveBuffers.ts); a hop over a
          // jump host's channel reads as it comes.
          const stream = sock === undefined ? reusingSocket(entry.address, entry.port) : { sock, attach: undefined }
          try {
            client.connect({
              sock: stream.sock,
              username: entry.user,
              // Ours (`clock`) instead: it stops while a person answers a prompt.
              readyTimeout: 0,
              keepaliveInterval: entry.keepaliveIntervalMs ?? config.limits.keepaliveIntervalMs,
              keepaliveCountMax: 3,
              // Host-key algorithms of the key types known for this host first, as OpenSSH orders them.
              algorithms: ssh2Algorithms(algorithms, knownTypes),
              // The handshake's key: returns nothing (ssh2 takes a returned value as the verdict
              // itself) and is decided in the fiber above. A re-key's: the verdict is returned,
              // the key the handshake accepted or nothing. Never later: ssh2 1.17 takes sshd's
              // NEWKEYS before a late answer and stops queueing what it sends, but still builds
              // packets as during the exchange, their payload over their length field (a window
              // adjustment for the data that follows, a keepalive, stdin): sshd reads "Bad packet
              // length" and drops the connection, and every job on it ends lost
              // (test/integration/rekeyHostKey.test.ts).
              hostVerifier: (key: Buffer, verify: (ok: boolean) => void): boolean | undefined => {
                if (accepted === undefined) {
                  Queue.offerUnsafe(offers, { key, verify })
                  return undefined
                }
                if (key.equals(accepted)) return true
                runInScope(Effect.logWarning(
                  `connection ${entry.alias}: the host key changed at a re-key (${fingerprintSha256(key)}, not ${fingerprint}): refused, the connection ends`
                ))
                return false
              },
              authHandler: safeAuthHandler(authHandler(attempts, progress))
            })
            // Small writes (channel opens, exec requests, stdin) must not wait for Nagle and
            // delayed ACKs: that cost ~40-80 ms per request on loopback.
            client.setNoDelay(true)
            reuseSendBuffers(client)
            stream.attach?.(client)
          } catch (e) {
            // ssh2 throws synchronously on settings it cannot use.
            if (sock === undefined) stream.sock.destroy()
            settled = true
            fail(e instanceof Error ? e : new Error(String(e)))
          }
        })
        return { conn: connection(client, closed, progress.lastMethod, fingerprint), client }
      })

    /** A channel from `via` to host:port, to run the next handshake over; destroyed with the scope, even when it comes late. */
    const forward = (via: Client, entry: HostEntry) =>
      scopedCallback<Duplex, ConnectError>((stream) => void stream.destroy(), (done) => {
        const failed = (message: string) => done(Exit.fail(new ConnectError({ message: `jump host cannot reach ${entry.address}:${entry.port}: ${message}` })))
        try {
          via.forwardOut("127.0.0.1", 0, entry.address, entry.port, (err, stream) =>
            err !== undefined && err !== null ? failed(err.message) : done(Exit.succeed(stream)))
        } catch (e) {
          // ssh2 throws when the jump host's connection is gone.
          failed(e instanceof Error ? e.message : String(e))
        }
      })

    /** The first hop over `proxy`'s stdio: it is hung up when the connection closes, and explains a failure. */
    const hopVia = (proxy: ProxyProcess | undefined, entry: HostEntry, options: OpenOptions | undefined, sock: Duplex | undefined) =>
      proxy === undefined ? hop(entry, options, sock) : hop(entry, options, sock).pipe(
        // A command that ends before the handshake does (perhaps before ssh2 even listens) ends it.
        Effect.raceFirst(Effect.andThen(
          Deferred.await(proxy.exited),
          Effect.fail(new ConnectError({ message: "ProxyCommand ended before the SSH handshake completed" }))
        )),
        Effect.tap(({ client }) => Effect.sync(() => client.once("close", () => proxy.hangUp()))),
        Effect.catchIf(
          (e): e is Extract<ConnectFailure, { _tag: "ConnectError" | "TimeoutError" }> => e._tag === "ConnectError" || e._tag === "TimeoutError",
          (e) => Effect.flatMap(proxyFailure(proxy, e), Effect.fail)
        )
      )

    const open = (entry: HostEntry, options?: OpenOptions) =>
      Effect.gen(function*() {
        const jumps = entry.proxyJump ?? []
        // ProxyCommand of the first hop (the host itself, or its first jump host): its stdio is the transport.
        const first = jumps[0] ?? entry
        const proxy = first.proxyCommand === undefined ? undefined : yield* spawnProxy(first.proxyCommand)
        let sock: Duplex | undefined = proxy?.stream
        for (const [i, jump] of jumps.entries()) {
          const via = yield* hopVia(i === 0 ? proxy : undefined, jump, options, sock)
          yield* Effect.logInfo(`jump host ${jump.user}@${jump.address}:${jump.port} connected for ${entry.alias}`)
          sock = yield* forward(via.client, jumps[i + 1] ?? entry)
        }
        const target = (yield* hopVia(jumps.length === 0 ? proxy : undefined, entry, options, sock)).conn
        yield* Effect.logInfo(
          `connected ${entry.alias}: ${entry.user}@${entry.address}:${entry.port} via ${target.authMethod}${proxy !== undefined ? " (ProxyCommand)" : ""}`
        )
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

/**
 * A handshake timeout that can stop while a person is asked something: `start` arms it,
 * `pause`/`resume` hold the time left, `stop` ends it.
 */
const handshakeClock = () => {
  let left = 0
  let since = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let onTimeout: (() => void) | undefined
  const arm = () => {
    since = Date.now()
    timer = setTimeout(() => onTimeout?.(), Math.max(0, left))
  }
  return {
    start: (ms: number, fire: () => void) => {
      left = ms
      onTimeout = fire
      arm()
    },
    pause: () => {
      if (timer === undefined) return
      clearTimeout(timer)
      timer = undefined
      left -= Date.now() - since
    },
    resume: () => {
      if (timer === undefined && onTimeout !== undefined) arm()
    },
    stop: () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      onTimeout = undefined
    }
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
    // Pipelined (execChannel.ts): the request and what the caller writes first follow the
    // open's answer at once, not one round trip each later as with ssh2's own `exec`.
    exec: (command, options, cb) =>
      openExecChannel(client, command, {
        window: options.window,
        pty: options.pty === true ? { term: "xterm", rows: PTY_SIZE.rows, cols: PTY_SIZE.cols } : undefined
      }, (err, channel) => cb(err, channel as ClientChannel)),
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
