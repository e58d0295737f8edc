/**
 * Two streams joined both ways, as a tunnel joins the connection it accepted with the one
 * it opened: `pipe` in each direction (so a slow reader pauses the writer: nothing is
 * buffered past the streams' own high-water marks), a half-close passed on, bytes counted,
 * and both ended once either side is gone.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"

export interface RelayEvents {
  /** Bytes read from the side that connected (`client`), on their way to the target. */
  readonly out: (bytes: number) => void
  /** Bytes read from the target's side, on their way back to the client. */
  readonly in: (bytes: number) => void
  /** Both sides are closed (called once). */
  readonly closed: () => void
}

/**
 * Once a side has closed, the other gets the end of what was sent to it, then is destroyed:
 * a peer that never closes its half cannot hold the connection open forever.
 */
const endThenDestroy = (s: Duplex) => {
  if (s.destroyed) return
  if (s.writableFinished) return void s.destroy()
  s.once("finish", () => s.destroy())
  s.end()
}

export const relay = (client: Duplex, target: Duplex, events: RelayEvents): void => {
  let open = 2
  const closed = () => {
    if (--open === 0) events.closed()
  }
  client.pipe(target)
  target.pipe(client)
  client.on("data", (chunk: Buffer) => events.out(chunk.length))
  target.on("data", (chunk: Buffer) => events.in(chunk.length))
  client.on("error", () => target.destroy())
  target.on("error", () => client.destroy())
  client.once("close", () => {
    endThenDestroy(target)
    closed()
  })
  target.once("close", () => {
    endThenDestroy(client)
    closed()
  })
}
