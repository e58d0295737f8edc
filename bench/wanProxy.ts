/**
 * A TCP proxy on loopback that delays each direction by a fixed time: a long link (a WAN)
 * for the bench, without touching the machine's network settings (other people's traffic
 * on loopback stays as it is). Every chunk read on one side is written to the other
 * `delayMs` later, in order, so a round trip through it takes twice that; bandwidth is not
 * limited (bytes in flight are bounded only so that memory is). End of stream and resets are
 * delayed like data.
 *
 * Run apart from the bench's own process, so that its timers do not wait behind the bench:
 *   node bench/wanProxy.ts <target-port> <one-way-delay-ms>   → prints "listening <port>"
 *
 * @since 0.3.0
 */
import * as net from "node:net"

/** Bytes read but not yet written on, per direction, before reading pauses (keeps memory bounded). */
const MAX_IN_FLIGHT = 256 * 1024 * 1024

/** Copy `from` to `to`, each chunk `delayMs` late; `onGone` once either side is finished with. */
const delayed = (from: net.Socket, to: net.Socket, delayMs: number) => {
  const queue: Array<{ due: number; chunk: Buffer | "end" }> = []
  let head = 0
  let held = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = () => {
    if (timer !== undefined || head >= queue.length) return
    timer = setTimeout(flush, Math.max(0, queue[head]!.due - performance.now()))
  }
  const flush = () => {
    timer = undefined
    // Anything due within the next half millisecond goes now: timers are that coarse anyway.
    const now = performance.now() + 0.5
    while (head < queue.length && queue[head]!.due <= now) {
      const { chunk } = queue[head]!
      queue[head++] = undefined as never
      if (chunk === "end") {
        to.end()
        continue
      }
      held -= chunk.length
      to.write(chunk)
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head)
      head = 0
    }
    if (held + to.writableLength < MAX_IN_FLIGHT && from.isPaused()) from.resume()
    arm()
  }
  to.on("drain", () => {
    if (held + to.writableLength < MAX_IN_FLIGHT && from.isPaused()) from.resume()
  })
  from.on("data", (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk })
    held += chunk.length
    if (held + to.writableLength >= MAX_IN_FLIGHT) from.pause()
    arm()
  })
  from.on("end", () => {
    queue.push({ due: performance.now() + delayMs, chunk: "end" })
    arm()
  })
  return () => {
    if (timer !== undefined) clearTimeout(timer)
  }
}

export interface WanProxy {
  readonly port: number
  close(): Promise<void>
}

/** A delaying proxy to 127.0.0.1:`targetPort`, each direction `oneWayMs` late. */
export const startWanProxy = (targetPort: number, oneWayMs: number): Promise<WanProxy> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    // Half-open: an end of stream is passed on (delayed) while the other direction still flows.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ host: "127.0.0.1", port: targetPort, allowHalfOpen: true })
      for (const s of [client, upstream]) {
        s.setNoDelay(true)
        sockets.add(s)
        s.on("close", () => sockets.delete(s))
      }
      const stops = [delayed(client, upstream, oneWayMs), delayed(upstream, client, oneWayMs)]
      // An error on one side reaches the other one delay later, as a reset would over a link;
      // a side closed for good ends the other one too, after what was still on the way.
      const gone = (after: number) => () =>
        setTimeout(() => {
          stops.forEach((stop) => stop())
          client.destroy()
          upstream.destroy()
        }, after)
      client.on("error", gone(oneWayMs))
      upstream.on("error", gone(oneWayMs))
      client.on("close", gone(oneWayMs + 1000))
      upstream.on("close", gone(oneWayMs + 1000))
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const [target, delay] = process.argv.slice(2).map(Number)
  if (!Number.isInteger(target) || !(delay! >= 0)) {
    process.stderr.write("usage: node bench/wanProxy.ts <target-port> <one-way-delay-ms>\n")
    process.exit(2)
  }
  const proxy = await startWanProxy(target!, delay!)
  process.stdout.write(`listening ${proxy.port}\n`)
  // Ends with its parent: stdin closes when the bench exits, however it exits.
  process.stdin.on("end", () => void proxy.close().then(() => process.exit(0)))
  process.stdin.resume()
}
