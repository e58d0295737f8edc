/**
 * A fake `Connections` for unit tests of the job services: `exec` hands out fake
 * channels (`FakeChannel`, typed against `RemoteChannel`) that the test drives —
 * output, exit — and that answer our own helper commands (the PID marker of the
 * wrapper, `kill` of a process group) the way a shell would.
 */
import { EventEmitter } from "node:events"
import { Effect, Layer } from "effect"
import { Connections } from "../../src/services/Connections.js"
import type { RemoteChannel } from "../../src/ssh/RemoteChannel.js"
import { PID_MARKER } from "../../src/ssh/shell.js"

export class FakeChannel extends EventEmitter implements RemoteChannel {
  readonly stderr = new EventEmitter()
  /** Everything written to stdin. */
  stdin = ""
  stdinEnded = false
  readonly signals: Array<string> = []
  closed = false
  /** The remote process runs (a channel closed by a dropped connection leaves it running). */
  alive = true

  constructor(readonly command: string, private readonly onEnd?: (channel: FakeChannel) => void) {
    super()
  }

  write(data: string | Uint8Array): boolean {
    this.stdin += typeof data === "string" ? data : Buffer.from(data).toString("utf8")
    return true
  }

  end(data?: string): void {
    if (data !== undefined) this.write(data)
    this.stdinEnded = true
    this.onEnd?.(this)
  }

  /** sshd delivers the signal: the process dies of it. */
  signal(name: string): void {
    this.signals.push(name)
    setImmediate(() => this.exit(null, name))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.emit("close")
  }

  out(text: string): void {
    this.emit("data", Buffer.from(text))
  }

  err(text: string): void {
    this.stderr.emit("data", Buffer.from(text))
  }

  /** The process ended: exit status (or signal), then the channel closes. */
  exit(code: number | null, signal?: string): void {
    this.alive = false
    if (this.closed) return
    this.emit("exit", code, signal)
    this.close()
  }
}

export interface FakeHost {
  /** Channels of the commands started through the job wrapper, oldest first. */
  readonly jobs: Array<FakeChannel>
  /** Every other command (kill, cat …) in order. */
  readonly helpers: Array<FakeChannel>
  /** Whether `info` reports the host connected (a test may take it down). */
  connected: boolean
}

/** A `Connections` whose `exec` never touches the network; PIDs count up from 1000. */
export const fakeConnections = (): { readonly host: FakeHost; readonly layer: Layer.Layer<Connections> } => {
  const host: FakeHost = { jobs: [], helpers: [], connected: true }
  let nextPid = 1000
  const pids = new Map<number, FakeChannel>()
  const helper = (command: string) =>
    new FakeChannel(command, (ch) =>
      setImmediate(() => {
        // `kill -0`: whether the group still has a process.
        const probe = /kill -0 -- -(\d+)/.exec(ch.command)
        if (probe !== null) return ch.exit(pids.get(Number(probe[1]))?.alive === true ? 0 : 1)
        const kill = /^kill -s (\w+) -- -(\d+)/.exec(ch.command)
        const target = kill === null ? undefined : pids.get(Number(kill[2]))
        if (kill !== null && target !== undefined) {
          const reached = target.alive
          target.exit(null, kill[1])
          return ch.exit(reached ? 0 : 1)
        }
        ch.exit(0)
      }))
  const layer = Layer.succeed(Connections, Connections.of({
    connect: () => Effect.die("fake connections: connect is not faked"),
    // Scoped as the real one: the channel is closed with the caller's scope.
    exec: (_alias, command) =>
      Effect.acquireRelease(Effect.sync(() => {
        if (!command.includes(PID_MARKER)) {
          const ch = helper(command)
          host.helpers.push(ch)
          return ch
        }
        const ch = new FakeChannel(command)
        const pid = nextPid++
        pids.set(pid, ch)
        host.jobs.push(ch)
        // The wrapper's first words, once our listeners are on the channel.
        setImmediate(() => ch.out(`${PID_MARKER}${pid}\n`))
        return ch
      }), (ch) => Effect.sync(() => ch.close())),
    sftp: () => Effect.die("fake connections: sftp is not faked"),
    disconnect: () => Effect.void,
    info: (alias) =>
      Effect.succeed(host.connected
        ? {
          alias, address: "127.0.0.1", port: 22, user: "u", authMethod: "publickey",
          hostKeyFingerprint: "SHA256:fake", serverBanner: "SSH-2.0-fake", connectedAt: new Date(0)
        }
        : undefined),
    closed: () => Effect.never,
    forwardOut: () => Effect.die("fake connections: forwardOut is not faked"),
    forwardIn: () => Effect.die("fake connections: forwardIn is not faked")
  }))
  return { host, layer }
}
