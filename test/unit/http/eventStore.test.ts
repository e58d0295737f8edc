import type { JSONRPCMessage } from "@modelcontextprotocol/server"
import { describe, expect, it } from "vitest"
import { BoundedEventStore } from "../../../src/mcp/eventStore.js"

const note = (i: number, pad = 0): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "t", progress: i, message: "x".repeat(pad) } })

const replay = async (store: BoundedEventStore, after: string) => {
  const got: Array<[string, JSONRPCMessage]> = []
  const stream = await store.replayEventsAfter(after, { send: async (id, m) => void got.push([id, m]) })
  return { stream, got }
}

describe("BoundedEventStore", () => {
  it("numbers events per stream and replays those after an id, skipping the priming event", async () => {
    const store = new BoundedEventStore()
    const priming = await store.storeEvent("s1", {} as JSONRPCMessage)
    const ids = [priming]
    for (let i = 1; i <= 3; i++) ids.push(await store.storeEvent("s1", note(i)))
    await store.storeEvent("s2", note(99))
    expect(ids).toEqual(["s1_1", "s1_2", "s1_3", "s1_4"])
    expect(await store.getStreamIdForEventId("s1_2")).toBe("s1")
    const { stream, got } = await replay(store, "s1_2")
    expect(stream).toBe("s1")
    expect(got.map(([id]) => id)).toEqual(["s1_3", "s1_4"])
    expect((await replay(store, priming)).got).toHaveLength(3)
  })

  it("refuses ids it does not know", async () => {
    const store = new BoundedEventStore()
    expect(await store.getStreamIdForEventId("nope")).toBeUndefined()
    expect(await store.getStreamIdForEventId("gone_3")).toBeUndefined()
    await expect(replay(store, "gone_3")).rejects.toThrow(/unknown event id/)
  })

  it("keeps at most N events and B bytes per stream, dropping the oldest", async () => {
    const store = new BoundedEventStore({ eventsPerStream: 5, bytesPerStream: 10_000, bytesPerSession: 1e9, streams: 10 })
    for (let i = 1; i <= 20; i++) await store.storeEvent("s", note(i))
    expect((await replay(store, "s_0")).got.map(([id]) => id)).toEqual(["s_16", "s_17", "s_18", "s_19", "s_20"])

    const bytes = new BoundedEventStore({ eventsPerStream: 1000, bytesPerStream: 5_000, bytesPerSession: 1e9, streams: 10 })
    for (let i = 1; i <= 20; i++) await bytes.storeEvent("s", note(i, 1000))
    const kept = (await replay(bytes, "s_0")).got
    expect(kept.length).toBeLessThanOrEqual(5)
    expect(kept.at(-1)![0]).toBe("s_20")
  })

  it("keeps at most S streams and B bytes per session, dropping the least recently written", async () => {
    const store = new BoundedEventStore({ eventsPerStream: 1000, bytesPerStream: 1e9, bytesPerSession: 1e9, streams: 3 })
    for (const s of ["a", "b", "c"]) await store.storeEvent(s, note(1))
    await store.storeEvent("a", note(2))
    await store.storeEvent("d", note(1))
    expect(await store.getStreamIdForEventId("b_1")).toBeUndefined()
    for (const s of ["a", "c", "d"]) expect(await store.getStreamIdForEventId(`${s}_1`)).toBe(s)

    const session = new BoundedEventStore({ eventsPerStream: 1000, bytesPerStream: 1e9, bytesPerSession: 20_000, streams: 100 })
    for (let s = 0; s < 50; s++) for (let i = 1; i <= 5; i++) await session.storeEvent(`s${s}`, note(i, 1000))
    let held = 0
    for (let s = 0; s < 50; s++) {
      if ((await session.getStreamIdForEventId(`s${s}_1`)) !== undefined) held += (await replay(session, `s${s}_0`)).got.length
    }
    expect(held * 1000).toBeLessThanOrEqual(20_000)
    expect((await replay(session, "s49_0")).got.length).toBeGreaterThan(0)
  })

  it("sends events stored while it replays", async () => {
    const store = new BoundedEventStore()
    for (let i = 1; i <= 3; i++) await store.storeEvent("s", note(i))
    const got: Array<string> = []
    await store.replayEventsAfter("s_0", {
      send: async (id) => {
        got.push(id)
        if (id === "s_3") await store.storeEvent("s", note(4))
      }
    })
    expect(got).toEqual(["s_1", "s_2", "s_3", "s_4"])
  })
})
