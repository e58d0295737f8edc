/**
 * Flow control for a channel's reader without pausing the channel: while held, the window
 * adjustments meant for the channel are not sent, so the host stops once it has spent the
 * window it was granted, and what it still sends is delivered as it comes. Released, the
 * channel's window is topped up to the largest target asked for meanwhile, in one message.
 *
 * Why not pause: chunks that arrive while a channel is paused wait queued in the stream, as
 * views of socket reads that then cannot be reused (receiveBuffers.ts); their memory goes to
 * the GC, whose major collections slow the reader further (a loopback download whose disk
 * writes fell behind took twice the CPU). A held reader instead copies what comes at once;
 * it holds at most one window more than it had when it held.
 *
 * Whoever adjusts (ssh2 after a push, its `_read`, execChannel.ts's larger window) first sets
 * the channel's `incoming.window` to its target and then calls the protocol's
 * `channelWindowAdjust`: that call is where a held channel's adjustment stops, its window
 * set back to what the host was granted. Relies on ssh2 1.17 internals (a channel's
 * `incoming.window`, `outgoing.id` and `_client._protocol.channelWindowAdjust`):
 * test/integration/windowHold.test.ts fails when they change.
 *
 * @since 0.4.0
 */

interface AdjustingProtocol {
  channelWindowAdjust(remoteId: number, amount: number): void
}

/** What ssh2 1.17's channel holds that this module reads and sets. */
interface WindowedChannel {
  readonly incoming: { window: number }
  readonly outgoing: { readonly id: number; readonly state: string }
  readonly _client: { readonly _protocol?: AdjustingProtocol }
  once(event: "close", listener: () => void): unknown
}

const isWindowed = (ch: object): ch is WindowedChannel => {
  const c = ch as Partial<WindowedChannel>
  return typeof c.incoming?.window === "number" && typeof c.outgoing?.id === "number" &&
    typeof c._client?._protocol?.channelWindowAdjust === "function" && typeof c.once === "function"
}

/** A held channel: the window the host was granted is its `incoming.window`; `target`, the largest asked for since. */
interface Held {
  readonly channel: WindowedChannel
  target: number
}

/** Per connection, its held channels by their id at the host's end. */
const heldByProtocol = new WeakMap<AdjustingProtocol, { readonly held: Map<number, Held>; readonly send: (remoteId: number, amount: number) => void }>()

const heldOn = (protocol: AdjustingProtocol) => {
  const known = heldByProtocol.get(protocol)
  if (known !== undefined) return known
  const adjust = protocol.channelWindowAdjust
  const held = new Map<number, Held>()
  const send = (remoteId: number, amount: number) => adjust.call(protocol, remoteId, amount)
  protocol.channelWindowAdjust = function(this: AdjustingProtocol, remoteId: number, amount: number) {
    const h = held.get(remoteId)
    if (h === undefined) return adjust.call(this, remoteId, amount)
    // Not sent: the adjuster has set the window to its target already; set it back.
    h.target = Math.max(h.target, h.channel.incoming.window)
    h.channel.incoming.window -= amount
  }
  const entry = { held, send }
  heldByProtocol.set(protocol, entry)
  return entry
}

/**
 * `hold(true)` stops sending `channel`'s window adjustments, `hold(false)` sends what they
 * asked for meanwhile; undefined for a channel that is not ssh2's (a test's fake: pause it
 * instead). The hold ends with the channel.
 */
export const holdsWindow = (channel: object): ((hold: boolean) => void) | undefined => {
  if (!isWindowed(channel)) return undefined
  const { held, send } = heldOn(channel._client._protocol!)
  const id = channel.outgoing.id
  const release = () => {
    const h = held.get(id)
    if (h?.channel !== channel) return
    held.delete(id)
    const amount = h.target - channel.incoming.window
    if (amount > 0 && channel.outgoing.state !== "closed") {
      channel.incoming.window = h.target
      send(id, amount)
    }
  }
  // Ids are used again by later channels: nothing of this one may stay held.
  channel.once("close", () => {
    if (held.get(id)?.channel === channel) held.delete(id)
  })
  return (hold) => {
    if (!hold) return release()
    if (!held.has(id) && channel.outgoing.state !== "closed") held.set(id, { channel, target: 0 })
  }
}
