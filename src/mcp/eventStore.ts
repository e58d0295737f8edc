/**
 * The SSE event store of one HTTP session, so that a client whose stream dropped
 * comes back with `Last-Event-ID` and misses nothing. In memory and bounded: per
 * stream by count and bytes, per session by bytes and streams; the oldest go first.
 * Event ids are `<stream id>_<n>`, n counting from 1 on each stream.
 *
 * @since 0.1.0
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server"

export interface EventStoreLimits {
  readonly eventsPerStream: number
  readonly bytesPerStream: number
  readonly bytesPerSession: number
  readonly streams: number
}

export const defaultEventStoreLimits: EventStoreLimits = {
  eventsPerStream: 1_000,
  bytesPerStream: 1024 * 1024,
  bytesPerSession: 2 * 1024 * 1024,
  streams: 64
}

interface Stored {
  readonly n: number
  readonly message: JSONRPCMessage
  readonly bytes: number
}

interface Stream {
  last: number
  bytes: number
  readonly events: Array<Stored>
}

const parse = (eventId: EventId): { readonly stream: StreamId; readonly n: number } | undefined => {
  const at = eventId.lastIndexOf("_")
  const n = Number(eventId.slice(at + 1))
  return at <= 0 || !Number.isSafeInteger(n) ? undefined : { stream: eventId.slice(0, at), n }
}

export class BoundedEventStore implements EventStore {
  /** In order of last write: the first is the one to drop. */
  private readonly streams = new Map<StreamId, Stream>()
  private bytes = 0

  constructor(private readonly limits: EventStoreLimits = defaultEventStoreLimits) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const stream = this.streams.get(streamId) ?? { last: 0, bytes: 0, events: [] }
    this.streams.delete(streamId)
    this.streams.set(streamId, stream)
    const bytes = JSON.stringify(message).length
    const n = ++stream.last
    stream.events.push({ n, message, bytes })
    stream.bytes += bytes
    this.bytes += bytes
    while (stream.events.length > this.limits.eventsPerStream || (stream.bytes > this.limits.bytesPerStream && stream.events.length > 1)) {
      this.dropOldest(stream)
    }
    for (const [id, other] of this.streams) {
      if (this.streams.size <= this.limits.streams && this.bytes <= this.limits.bytesPerSession) break
      if (other === stream) break
      this.bytes -= other.bytes
      this.streams.delete(id)
    }
    while (this.bytes > this.limits.bytesPerSession && stream.events.length > 1) this.dropOldest(stream)
    return `${streamId}_${n}`
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const parsed = parse(eventId)
    return parsed !== undefined && this.streams.has(parsed.stream) ? parsed.stream : undefined
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }
  ): Promise<StreamId> {
    const parsed = parse(lastEventId)
    const stream = parsed === undefined ? undefined : this.streams.get(parsed.stream)
    if (parsed === undefined || stream === undefined) throw new Error(`unknown event id ${lastEventId}`)
    // Events stored while we send are sent too: look the next one up each time.
    let after = parsed.n
    for (;;) {
      const next = stream.events.find((e) => e.n > after)
      if (next === undefined) return parsed.stream
      after = next.n
      // The priming event (an empty message) only carried an id.
      if ("jsonrpc" in next.message) await send(`${parsed.stream}_${next.n}`, next.message)
    }
  }

  private dropOldest(stream: Stream) {
    const dropped = stream.events.shift()
    if (dropped === undefined) return
    stream.bytes -= dropped.bytes
    this.bytes -= dropped.bytes
  }
}
