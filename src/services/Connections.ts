/**
 * Live SSH connections, one multiplexed ssh2 `Client` per host alias, opened on
 * demand and closed with the service's scope. Host keys are checked against
 * known_hosts before any credential is sent.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import { Context, Deferred, Duration, Effect, Exit, Layer, Redacted, Schedule, Semaphore } from "effect"
import ssh2, { type AuthenticationType, type Client, type ClientChannel, type PseudoTtyOptions, type SFTPWrapper } from "ssh2"
import { defaultAlgorithms, ssh2Algorithms } from "../ssh/algorithms.js"
import { fingerprintSha256, keyTypeOfBlob } from "../ssh/KnownHostsFile.js"
import { AppConfig } from "./AppConfig.js"
import {
  AuthError,
  ChannelError,
  ConnectError,
  HostKeyMismatchError,
  HostKeyUnknownError,
  HostNotFoundError,
  TimeoutError
} from "./errors.js"
import { type HostEntry, HostRegistry } from "./HostRegistry.js"
import { KnownHosts } from "./KnownHosts.js"

/** What `ssh_connect` reports about an open connection. */
export interface ConnectionInfo {
  readonly alias: string
  readonly address: string
  readonly port: number
  readonly user: string
  /** The method that authenticated: publickey, password, keyboard-interactive, agent. */
  readonly authMethod: string
  /** SHA256 fingerprint of the server's host key, as `ssh-keygen -l` prints it. */
  readonly hostKeyFingerprint: string
  /** The server's identification string, e.g. `OpenSSH_9.2p1 Debian-2`. */
  readonly serverBanner: string
  readonly connectedAt: Date
}

/** Why a connection could not be had. */
export type ConnectFailure =
  | HostNotFoundError
  | ConnectError
  | AuthError
  | HostKeyUnknownError
  | HostKeyMismatchError
  | TimeoutError

/** What to do with an unknown host key when `insecure_auto_add` is off. */
export type UnknownHostKeyDecision = "refuse" | "session" | "save"

export interface UnknownHostKey {
  readonly alias: string
  readonly address: string
  readonly port: number
  readonly fingerprint: string
  readonly keyType: string
}

export interface ConnectOptions {
  /** Asked when the host key is unknown (e.g. MCP elicitation); without it the key is refused. */
  readonly onUnknownHostKey?: (key: UnknownHostKey) => Effect.Effect<UnknownHostKeyDecision>
}

export interface ExecOptions {
  /** Allocate a pseudo-terminal (stdout and stderr merge, programs line-buffer). */
  readonly pty?: boolean
}

interface Live {
  readonly client: Client
  readonly info: ConnectionInfo
  readonly closed: Deferred.Deferred<void>
  /** Every connection to the host, the first one included: more are opened when channels run out. */
  readonly pool: Array<Pooled>
  /** Channels per connection the server allows, once learned from a refusal (sshd's MaxSessions). */
  maxChannels: number | undefined
  /** One new connection at a time: a burst of refused channels must not open one each. */
  readonly growing: Semaphore.Semaphore
}

interface Pooled {
  readonly client: Client
  channels: number
  closed: boolean
  /** Extra connections only: closes it once it has had no channel for `extra_connection_idle_sec`. */
  readonly onIdle?: () => void
  idleTimer?: ReturnType<typeof setTimeout> | undefined
}

/** A channel is being opened on `p`: it is not idle. */
const take = (p: Pooled) => {
  p.channels++
  if (p.idleTimer !== undefined) clearTimeout(p.idleTimer)
  p.idleTimer = undefined
}

/** How OpenSSH refuses a channel past MaxSessions. */
const isChannelLimit = (e: Error) => /open failed|administratively prohibited|resource shortage/i.test(e.message)

export class Connections extends Context.Service<Connections, {
  /** Open (or reuse) the connection to `alias`. */
  connect(alias: string, options?: ConnectOptions): Effect.Effect<ConnectionInfo, ConnectFailure>
  /** Start `command` on `alias` in a new exec channel, connecting first when needed. */
  exec(alias: string, command: string, options?: ExecOptions): Effect.Effect<ClientChannel, ConnectFailure | ChannelError>
  /** An SFTP session on `alias` (a channel like any other: it counts against MaxSessions). Close it with `end()`. */
  sftp(alias: string): Effect.Effect<SFTPWrapper, ConnectFailure | ChannelError>
  /** Close the connection to `alias` (no-op when not connected). */
  disconnect(alias: string): Effect.Effect<void>
  /** The open connection's info, if connected. */
  info(alias: string): Effect.Effect<ConnectionInfo | undefined>
  /** Completes when the current connection to `alias` closes (at once when not connected). */
  closed(alias: string): Effect.Effect<void>
}>()("mcp-ssh-live/Connections") {
  static readonly layer = Layer.effect(Connections)(Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* HostRegistry
    const knownHosts = yield* KnownHosts
    const live = new Map<string, Live>()
    // Callbacks from ssh2 run outside any fiber: run their effects with this layer's services (loggers included).
    const services = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(services)
    const pending = new Map<string, Deferred.Deferred<Live, ConnectFailure>>()

    /** What we offer: our defaults (no weak algorithms) unless the operator listed others. */
    const algorithms = { ...defaultAlgorithms, ...config.algorithms }

    /** One SSH handshake (host key check, then auth), over TCP or over `sock` (a jump host's forwarded channel). */
    const handshake = (entry: HostEntry, options: ConnectOptions | undefined, sock: Duplex | undefined) =>
      Effect.gen(function*() {
        const auth = yield* authAttempts(entry)
        const knownTypes = yield* knownHosts.knownTypes(entry.address, entry.port)
        const client = new ssh2.Client()
        let hostKeyFailure: HostKeyUnknownError | HostKeyMismatchError | undefined
        let fingerprint = ""
        let lastMethod = "none"
        const tried: Array<string> = []

        const hostVerifier = (key: Buffer, verify: (ok: boolean) => void) => {
          fingerprint = fingerprintSha256(key)
          const decide = Effect.gen(function*() {
            const verdict = yield* knownHosts.check(entry.address, entry.port, key)
            if (verdict._tag === "Match") return true
            const where = `${entry.alias} (${entry.address}:${entry.port})`
            if (verdict._tag === "Mismatch" || verdict._tag === "OtherType") {
              // A key of another type than the known one(s) is a changed key too: we asked for the known
              // types first, so a server that still has its known key would have offered it.
              const what = verdict._tag === "Mismatch"
                ? `server offers ${fingerprint}, which differs from the ${verdict.knownKeyType} key`
                : `server offers a ${keyTypeOfBlob(key)} key ${fingerprint}, but only a ${verdict.knownKeyType} key is known for it`
              hostKeyFailure = new HostKeyMismatchError({
                message: `host key for ${where} has CHANGED: ${what} in ${knownHosts.path} line ${verdict.line}. Possible man-in-the-middle attack; refused.`,
                hint: "if the host was really reinstalled, remove the old entry (ssh-keygen -R) and connect again",
                fingerprint
              })
              return false
            }
            if (entry.insecureAutoAdd) {
              yield* knownHosts.save(entry.address, entry.port, key).pipe(
                Effect.catch((e) => Effect.logWarning(`insecure_auto_add: ${e.message}`))
              )
              yield* Effect.logWarning(`accepted and recorded unknown host key ${fingerprint} for ${where}`)
              return true
            }
            const decision = options?.onUnknownHostKey === undefined ? "refuse" : yield* options.onUnknownHostKey({
              alias: entry.alias,
              address: entry.address,
              port: entry.port,
              fingerprint,
              keyType: keyTypeOfBlob(key)
            })
            if (decision === "save") {
              yield* knownHosts.save(entry.address, entry.port, key).pipe(
                Effect.catch((e) => Effect.logWarning(e.message))
              )
              return true
            }
            if (decision === "session") {
              yield* knownHosts.trustForSession(entry.address, entry.port, key)
              return true
            }
            hostKeyFailure = new HostKeyUnknownError({
              message: `host key of ${where} is not in ${knownHosts.path}: ${fingerprint}`,
              hint: config.allowAgentInsecureAutoAdd
                ? "verify the fingerprint out of band, then add it with ssh-keyscan, or connect with insecure_auto_add: true"
                : "ask the user to verify the fingerprint out of band and add the key to known_hosts (ssh-keyscan); a client with form elicitation lets the user trust it at connect time",
              fingerprint
            })
            return false
          })
          Effect.runPromiseWith(services)(decide).then(verify, () => verify(false))
        }

        const authHandler = (
          methodsLeft: Array<AuthenticationType> | null,
          _partial: boolean | null,
          next: (auth: unknown) => void
        ) => {
          while (auth.length > 0) {
            const attempt = auth.shift()!
            if (methodsLeft !== null && !methodsLeft.includes(attempt.type as AuthenticationType)) continue
            tried.push(attempt.label)
            lastMethod = attempt.type
            return next(attempt.auth)
          }
          return next(false)
        }

        // A person may be asked about the host key mid-handshake: give them time to answer.
        const readyTimeout = config.limits.connectTimeoutMs + (options?.onUnknownHostKey !== undefined ? 300_000 : 0)
        const result = yield* Effect.callback<Client, ConnectFailure>((resume) => {
          const fail = (err: Error & { level?: string; code?: string }) => {
            client.removeAllListeners("ready")
            if (hostKeyFailure !== undefined) return resume(Effect.fail(hostKeyFailure))
            const where = `${entry.user}@${entry.address}:${entry.port}`
            if (err.level === "client-authentication") {
              return resume(Effect.fail(
                new AuthError({
                  message: `authentication failed for ${where}; tried: ${tried.length > 0 ? tried.join(", ") : "nothing usable"}`,
                  hint: "check user, password/password_env, key_path and passphrase; or load the key into ssh-agent"
                })
              ))
            }
            if (err.level === "client-timeout") {
              return resume(Effect.fail(
                new TimeoutError({ message: `no SSH handshake with ${where} within ${readyTimeout} ms` })
              ))
            }
            const legacy = /no matching/i.test(err.message)
            return resume(Effect.fail(
              new ConnectError({
                message: `cannot connect to ${where}: ${err.code !== undefined ? `${err.code} ` : ""}${err.message}`,
                ...(legacy
                  ? { hint: "the server offers only algorithms we do not by default (weak ones such as ssh-rsa or hmac-sha1); the operator can allow them in [server.algorithms] (docs/CONFIG.md)" }
                  : {})
              })
            ))
          }
          client.once("error", fail)
          client.once("close", () => fail(Object.assign(new Error("connection closed during setup"), {})))
          client.once("ready", () => {
            client.removeListener("error", fail)
            client.removeAllListeners("close")
            resume(Effect.succeed(client))
          })
          try {
            connectClient()
            // Small writes (channel opens, exec requests, stdin) must not wait for Nagle and
            // delayed ACKs: that cost ~40-80 ms per request on loopback.
            client.setNoDelay(true)
          } catch (e) {
            // ssh2 throws synchronously on settings it cannot use.
            fail(e instanceof Error ? e : new Error(String(e)))
          }
          return Effect.sync(() => client.end())
        })

        function connectClient() {
          client.connect({
            ...(sock === undefined ? { host: entry.address, port: entry.port } : { sock }),
            username: entry.user,
            readyTimeout,
            keepaliveInterval: entry.keepaliveIntervalMs ?? config.limits.keepaliveIntervalMs,
            keepaliveCountMax: 3,
            // Host-key algorithms of the key types known for this host first, as OpenSSH orders them.
            algorithms: ssh2Algorithms(algorithms, knownTypes),
            // @types/ssh2 lags the runtime: it omits the async verify callback's use here, the
            // null methodsLeft of the first call and next(false) to stop; ssh2 1.17 supports all three.
            hostVerifier: hostVerifier as never,
            authHandler: authHandler as never
          })
        }

        return {
          client: result,
          authMethod: lastMethod,
          fingerprint,
          banner: (result as unknown as { _remoteVer?: string })._remoteVer ?? ""
        }
      })

    /** A channel from `via` to host:port, to run the next handshake over. */
    const forward = (via: Client, entry: HostEntry) =>
      Effect.callback<Duplex, ConnectError>((resume) => {
        via.forwardOut("127.0.0.1", 0, entry.address, entry.port, (err, stream) =>
          err !== undefined && err !== null
            ? resume(Effect.fail(new ConnectError({ message: `jump host cannot reach ${entry.address}:${entry.port}: ${err.message}` })))
            : resume(Effect.succeed(stream)))
      })

    /** Connect to `entry`, through its ProxyJump chain when it has one. */
    const open = (entry: HostEntry, options: ConnectOptions | undefined) =>
      Effect.gen(function*() {
        const chain: Array<Client> = []
        const target = yield* Effect.gen(function*() {
          let sock: Duplex | undefined
          for (const jump of entry.proxyJump ?? []) {
            const hop = yield* handshake(jump, options, sock)
            chain.push(hop.client)
            yield* Effect.logInfo(`jump host ${jump.user}@${jump.address}:${jump.port} connected for ${entry.alias}`)
            const next = entry.proxyJump![chain.length] ?? entry
            sock = yield* forward(hop.client, next)
          }
          return yield* handshake(entry, options, sock)
        }).pipe(Effect.onError(() => Effect.sync(() => chain.forEach((c) => c.end()))))

        const closed = Deferred.makeUnsafe<void>()
        const result = target.client
        result.on("error", (err) => runFork(Effect.logWarning(`connection ${entry.alias}: ${err.message}`)))
        result.on("close", () => {
          for (const c of chain) c.end()
          Deferred.doneUnsafe(closed, Exit.void)
        })
        const info: ConnectionInfo = {
          alias: entry.alias,
          address: entry.address,
          port: entry.port,
          user: entry.user,
          authMethod: target.authMethod,
          hostKeyFingerprint: target.fingerprint,
          serverBanner: target.banner,
          connectedAt: new Date()
        }
        yield* Effect.logInfo(`connected ${entry.alias}: ${entry.user}@${entry.address}:${entry.port} via ${target.authMethod}`)
        const first: Pooled = { client: result, channels: 0, closed: false }
        result.on("close", () => {
          first.closed = true
        })
        return { client: result, info, closed, pool: [first], maxChannels: undefined, growing: Semaphore.makeUnsafe(1) } satisfies Live
      })

    const layerScope = yield* Effect.scope
    /** Aliases closed on purpose: no reconnect for them. */
    const closing = new Set<string>()
    /** Aliases that were connected once: a later connect is a reconnect, retried on transient failures. */
    const known = new Set<string>()

    const transient = (e: ConnectFailure) => e._tag === "ConnectError" || e._tag === "TimeoutError"
    const reconnectSchedule = Schedule.exponential(Duration.millis(config.limits.reconnectDelaySec * 1000)).pipe(Schedule.jittered)

    const acquire = (alias: string, options?: ConnectOptions): Effect.Effect<Live, ConnectFailure> =>
      Effect.gen(function*() {
        const entry = yield* registry.resolve(alias)
        const existing = live.get(entry.alias)
        if (existing !== undefined && !Deferred.isDoneUnsafe(existing.closed)) return existing
        const inFlight = pending.get(entry.alias)
        if (inFlight !== undefined) return yield* Deferred.await(inFlight)
        const deferred = Deferred.makeUnsafe<Live, ConnectFailure>()
        pending.set(entry.alias, deferred)
        const attempt = known.has(entry.alias)
          ? open(entry, options).pipe(
            Effect.tapError((e) => transient(e) ? Effect.logWarning(`reconnect to ${entry.alias} failed: ${e.message}`) : Effect.void),
            Effect.retry({ schedule: reconnectSchedule, times: config.limits.reconnectRetries, while: transient })
          )
          : open(entry, options)
        // The attempt runs on its own, not in the caller's fiber: a caller interrupted while
        // connecting (a cancelled call, a failed sibling in Effect.all) must not leave the
        // pending entry behind, which every later call for the host would wait on forever.
        runFork(Effect.forkIn(
          Effect.flatMap(Effect.exit(attempt), (exit) =>
            Effect.sync(() => {
              pending.delete(entry.alias)
              Deferred.doneUnsafe(deferred, exit)
              if (Exit.isSuccess(exit)) {
                const conn = exit.value
                live.set(entry.alias, conn)
                known.add(entry.alias)
                closing.delete(entry.alias)
                conn.client.on("close", () => {
                  if (live.get(entry.alias) !== conn) return
                  live.delete(entry.alias)
                  if (closing.has(entry.alias)) return
                  // Dropped, not closed by us: reconnect in the background (the next call would too).
                  runFork(Effect.forkIn(
                    Effect.logWarning(`connection to ${entry.alias} lost; reconnecting`).pipe(
                      Effect.andThen(acquire(entry.alias)),
                      Effect.tap(() => Effect.logInfo(`reconnected ${entry.alias}`)),
                      Effect.catch((e) => Effect.logWarning(`gave up reconnecting ${entry.alias}: ${e.message}; the next call will try again`))
                    ),
                    layerScope
                  ))
                })
              }
            })),
          layerScope
        ))
        return yield* Deferred.await(deferred)
      })

    /** The open connection with the fewest channels, if one is under the learned limit. */
    const pick = (conn: Live): Pooled | undefined => {
      let best: Pooled | undefined
      for (const p of conn.pool) {
        if (p.closed || (conn.maxChannels !== undefined && p.channels >= conn.maxChannels)) continue
        if (best === undefined || p.channels < best.channels) best = p
      }
      return best
    }

    const idleMs = config.limits.extraConnectionIdleSec * 1000
    /** A channel of `p` is gone: an extra connection left with none starts its idle countdown. */
    const release = (p: Pooled) => {
      p.channels--
      if (p.channels === 0 && p.onIdle !== undefined && !p.closed) {
        if (p.idleTimer !== undefined) clearTimeout(p.idleTimer)
        p.idleTimer = setTimeout(p.onIdle, idleMs)
        p.idleTimer.unref()
      }
    }

    /** One more connection to the host, for channels the others cannot take; closed again once idle. */
    const grow = (alias: string, conn: Live) =>
      Effect.gen(function*() {
        const entry = yield* registry.resolve(alias)
        const extra = yield* open(entry, undefined)
        const drop = () => {
          pooled.closed = true
          if (pooled.idleTimer !== undefined) clearTimeout(pooled.idleTimer)
          const i = conn.pool.indexOf(pooled)
          if (i > 0) conn.pool.splice(i, 1)
        }
        const pooled: Pooled = {
          client: extra.client,
          channels: 0,
          closed: false,
          onIdle: () => {
            if (pooled.channels > 0 || pooled.closed) return
            drop()
            extra.client.end()
            runFork(Effect.logInfo(`${alias}: closed an extra connection idle for ${config.limits.extraConnectionIdleSec} s (${conn.pool.length} left)`))
          }
        }
        extra.client.on("close", drop)
        conn.pool.push(pooled)
        // Idle until the caller's channel opens on it.
        pooled.channels++
        release(pooled)
        yield* Effect.logInfo(`${alias}: channel limit reached (${conn.maxChannels ?? "?"} per connection); opened connection #${conn.pool.length}`)
        return pooled
      })

    /**
     * Open an exec channel on `target`. Counted from the request on (sshd refuses a channel
     * at once but confirms one only after its exec request), so a refusal tells how many
     * channels the connection already had: the server's limit.
     */
    const openChannel = <C extends { once(event: "close", f: () => void): unknown }>(
      target: Pooled,
      open: (client: Client, cb: (err: Error | undefined, channel: C) => void) => void
    ) =>
      Effect.callback<C, { readonly error: Error; readonly position: number }>((resume) => {
        const position = target.channels
        take(target)
        try {
          open(target.client, (err, channel) => {
            if (err !== undefined && err !== null) {
              release(target)
              return resume(Effect.fail({ error: err, position }))
            }
            channel.once("close", () => release(target))
            resume(Effect.succeed(channel))
          })
        } catch (e) {
          // ssh2 throws at once on a connection that just closed ("Not connected").
          release(target)
          resume(Effect.fail({ error: e instanceof Error ? e : new Error(String(e)), position }))
        }
      })

    /** A new channel on `alias`, on whichever pooled connection has room (one more connection if none has). */
    const channel = <C extends { once(event: "close", f: () => void): unknown }>(
      alias: string,
      open: (client: Client, cb: (err: Error | undefined, channel: C) => void) => void
    ) =>
      Effect.gen(function*() {
        let conn = yield* acquire(alias)
        for (;;) {
          const target = pick(conn) ?? (yield* conn.growing.withPermit(Effect.suspend(() => {
            // Another fiber may have opened a connection while this one waited.
            const now = pick(conn)
            return now !== undefined ? Effect.succeed(now) : grow(alias, conn)
          })))
          const opened = yield* Effect.result(openChannel(target, open))
          if (opened._tag === "Success") return opened.success
          const { error, position } = opened.failure
          // ssh2 throws "Not connected" on a connection that just closed, and fails channels
          // still being opened with "No response from server" right after its close event:
          // either way nothing ran on that connection. Use another, or reconnect.
          if (target.closed || /not connected/i.test(error.message)) {
            target.closed = true
            if (conn.pool.every((p) => p.closed)) {
              if (live.get(alias) === conn) live.delete(alias)
              conn = yield* acquire(alias)
            }
            continue
          }
          if (!isChannelLimit(error) || position === 0) {
            return yield* new ChannelError({ message: `cannot open a channel on ${alias}: ${error.message}` })
          }
          // The server allows no more channels on this connection: remember the limit, use another.
          conn.maxChannels = Math.min(conn.maxChannels ?? Infinity, position)
        }
      })

    const disconnect = (alias: string) =>
      Effect.gen(function*() {
        closing.add(alias)
        known.delete(alias)
        const conn = live.get(alias)
        if (conn === undefined) return
        live.delete(alias)
        for (const extra of conn.pool.slice(1)) extra.client.end()
        conn.client.end()
        yield* Deferred.await(conn.closed).pipe(Effect.timeout("2 seconds"), Effect.ignore)
        conn.client.destroy()
        yield* Effect.logInfo(`disconnected ${alias}`)
      })

    yield* Effect.addFinalizer(() => Effect.forEach([...live.keys()], disconnect, { discard: true }))

    return Connections.of({
      connect: (alias, options) => Effect.map(acquire(alias, options), (l) => l.info),
      exec: (alias, command, options) =>
        channel<ClientChannel>(alias, (client, cb) =>
          options?.pty === true
            ? client.exec(command, { pty: { term: "xterm", rows: 40, cols: 200 } satisfies PseudoTtyOptions }, cb)
            : client.exec(command, cb)),
      sftp: (alias) => channel<SFTPWrapper>(alias, (client, cb) => client.sftp(cb)),
      disconnect,
      info: (alias) => Effect.sync(() => live.get(alias)?.info),
      closed: (alias) => {
        const conn = live.get(alias)
        return conn === undefined ? Effect.void : Deferred.await(conn.closed)
      }
    })
  }))
}

interface AuthAttempt {
  readonly type: string
  /** What the AUTH_FAILED message lists: the method and which key, never a secret. */
  readonly label: string
  readonly auth: unknown
}

const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p)

const secretFromEnv = (name: string | undefined): Redacted.Redacted<string> | undefined => {
  if (name === undefined) return undefined
  const value = process.env[name]
  return value === undefined ? undefined : Redacted.make(value)
}

/**
 * The authentication attempts in OpenSSH's spirit: the explicit key, the explicit
 * password (also answered to keyboard-interactive prompts), the agent, then the
 * default key files when no key was given.
 */
const authAttempts = (entry: HostEntry) =>
  Effect.gen(function*() {
    const attempts: Array<AuthAttempt> = []
    const username = entry.user
    const passphrase = entry.auth.passphrase ?? secretFromEnv(entry.auth.passphraseEnv)
    if (entry.auth.passphraseEnv !== undefined && passphrase === undefined) {
      return yield* new AuthError({
        message: `environment variable ${entry.auth.passphraseEnv} (key passphrase) is not set`,
        hint: `export ${entry.auth.passphraseEnv} in the server's environment`
      })
    }
    if (entry.auth.keyPath !== undefined) {
      const file = expandHome(entry.auth.keyPath)
      const text = yield* Effect.tryPromise({
        try: () => fs.readFile(file),
        catch: (e) => new AuthError({ message: `cannot read key_path ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
      })
      const parsed = ssh2.utils.parseKey(text, passphrase === undefined ? undefined : Redacted.value(passphrase))
      if (parsed instanceof Error) {
        const encrypted = passphrase === undefined && /encrypted|passphrase/i.test(parsed.message)
        return yield* new AuthError({
          message: passphrase === undefined
            ? `cannot use key ${file}: ${parsed.message}`
            : `cannot decrypt key ${file}: wrong passphrase or unsupported key`,
          ...(encrypted ? { hint: "the key is encrypted: give passphrase (or key_passphrase_env in config)" } : {})
        })
      }
      attempts.push({ type: "publickey", label: `publickey (${file})`, auth: { type: "publickey", username, key: text, passphrase: passphrase === undefined ? undefined : Redacted.value(passphrase) } })
    }
    const password = entry.auth.password ?? secretFromEnv(entry.auth.passwordEnv)
    if (entry.auth.passwordEnv !== undefined && password === undefined) {
      return yield* new AuthError({
        message: `environment variable ${entry.auth.passwordEnv} (password) is not set`,
        hint: `export ${entry.auth.passwordEnv} in the server's environment`
      })
    }
    if (password !== undefined) {
      attempts.push({ type: "password", label: "password", auth: { type: "password", username, password: Redacted.value(password) } })
      attempts.push({
        type: "keyboard-interactive",
        label: "keyboard-interactive",
        auth: {
          type: "keyboard-interactive",
          username,
          prompt: (_n: string, _i: string, _l: string, prompts: Array<unknown>, finish: (answers: Array<string>) => void) =>
            finish(prompts.map(() => Redacted.value(password)))
        }
      })
    }
    const agent = process.env.SSH_AUTH_SOCK
    if (agent !== undefined && agent !== "") {
      attempts.push({ type: "agent", label: "agent", auth: { type: "agent", username, agent } })
    }
    if (entry.auth.keyPath === undefined) {
      // IdentityFile from ~/.ssh/config replaces OpenSSH's default key files, as in ssh.
      const files = entry.auth.identityFiles ?? ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => path.join(os.homedir(), ".ssh", n))
      for (const name of files) {
        const file = expandHome(name)
        const text = yield* Effect.promise(() => fs.readFile(file).catch(() => undefined))
        if (text === undefined) continue
        const parsed = ssh2.utils.parseKey(text, passphrase === undefined ? undefined : Redacted.value(passphrase))
        if (parsed instanceof Error) continue
        attempts.push({ type: "publickey", label: `publickey (${file})`, auth: { type: "publickey", username, key: text } })
      }
    }
    return attempts
  })
