/**
 * An HTTP session's resource watchers end with the session: deleted by its client,
 * expired after --http-session-idle-sec, or evicted by the session cap. The server runs
 * in this process (serveHttp over the live services, with a Jobs whose change streams
 * count their readers), so the test can see every watcher stop.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Context, Effect, Redacted, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { type AppConfig, Jobs, layerConfig, type Services } from "../../src/index.js"
import { serveHttp } from "../../src/mcp/http.js"
import { McpLogSink } from "../../src/mcp/logging.js"
import { initializeBody } from "../support/rawHttp.js"

const TOKEN = "t".repeat(32)

const withServer = (options: { readonly sessionIdleSec: number; readonly maxSessions: number }, body: (
  url: URL,
  watching: () => number,
  stopped: () => number
) => Effect.Effect<void>) => {
  let watching = 0
  let stopped = 0
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-httpw-"))
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const context = yield* Effect.context<Services | AppConfig>()
    const jobs = Context.get(context, Jobs)
    // A job that never ends: its change stream stays open until its reader stops.
    const counted = Jobs.of({
      ...jobs,
      changes: () =>
        Stream.unwrap(Effect.sync(() => {
          watching++
          return Stream.never.pipe(Stream.ensuring(Effect.sync(() => void (watching--, stopped++))))
        }))
    })
    const port = yield* serveHttp(
      Context.add(context, Jobs, counted),
      { port: 0, bind: "127.0.0.1", token: Redacted.make(TOKEN), ...options },
      new McpLogSink()
    )
    yield* body(new URL(`http://127.0.0.1:${port}/mcp`), () => watching, () => stopped)
  }).pipe(Effect.provide(layerConfig({ knownHostsPath: path.join(home, "known_hosts") })))))
}

/**
 * A 2025-11-25 session over plain POSTs (no standalone GET stream, which would count as a
 * request in flight and keep the session from expiring), subscribed to two jobs' output.
 */
const openSubscribed = (url: URL) => Effect.promise(async () => {
  const post = (body: unknown, sessionId?: string) =>
    fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${TOKEN}`,
        ...(sessionId !== undefined ? { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" } : {})
      },
      body: JSON.stringify(body)
    })
  const init = await post(initializeBody())
  await init.text()
  const id = init.headers.get("mcp-session-id")!
  expect(id).toBeTruthy()
  expect((await post({ jsonrpc: "2.0", method: "notifications/initialized" }, id)).status).toBe(202)
  for (const [n, job] of [[1, "job-1"], [2, "job-2"]] as const) {
    const r = await post({ jsonrpc: "2.0", id: n, method: "resources/subscribe", params: { uri: `ssh-job://${job}/output` } }, id)
    expect(await r.text()).toContain(`"id":${n}`)
  }
  return {
    id,
    delete: () => fetch(url, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}`, "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" } }),
    ping: async () => (await post({ jsonrpc: "2.0", id: 99, method: "ping" }, id)).status
  }
})

const until = (done: () => boolean) => Effect.gen(function*() {
  for (let i = 0; i < 200 && !done(); i++) yield* Effect.sleep("25 millis")
})

describe("HTTP session close stops its resource watchers", () => {
  it("when the client deletes the session", () =>
    withServer({ sessionIdleSec: 1800, maxSessions: 8 }, (url, watching) => Effect.gen(function*() {
      const session = yield* openSubscribed(url)
      yield* until(() => watching() === 2)
      expect(watching()).toBe(2)
      expect((yield* Effect.promise(session.delete)).status).toBe(200)
      yield* until(() => watching() === 0)
      expect(watching()).toBe(0)
    })))

  it("when the session expires idle", () =>
    withServer({ sessionIdleSec: 1, maxSessions: 8 }, (url, watching) => Effect.gen(function*() {
      const session = yield* openSubscribed(url)
      yield* until(() => watching() === 2)
      expect(watching()).toBe(2)
      yield* until(() => watching() === 0)
      expect(watching()).toBe(0)
      expect(yield* Effect.promise(session.ping)).toBe(404)
    })))

  it("when the session cap evicts it", () =>
    withServer({ sessionIdleSec: 1800, maxSessions: 1 }, (url, watching, stopped) => Effect.gen(function*() {
      const first = yield* openSubscribed(url)
      yield* until(() => watching() === 2)
      expect(watching()).toBe(2)
      // A second session takes the only place: the first one (idle) is closed, with its watchers.
      const second = yield* openSubscribed(url)
      yield* until(() => stopped() === 2 && watching() === 2)
      expect(stopped()).toBe(2)
      expect(watching()).toBe(2)
      expect(yield* Effect.promise(first.ping)).toBe(404)
      expect(yield* Effect.promise(second.ping)).toBe(200)
    })))
})
