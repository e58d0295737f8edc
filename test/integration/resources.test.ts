/**
 * A job-output subscription lives no longer than the MCP server that started it: when
 * the server closes (an HTTP session deleted, evicted or expired) its watchers stop.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Client } from "@modelcontextprotocol/client"
import { InMemoryTransport, McpServer } from "@modelcontextprotocol/server"
import { Context, Effect, Stream } from "effect"
import { expect, it } from "vitest"
import { Jobs, layerConfig } from "../../src/index.js"
import { registerJobResources } from "../../src/mcp/resources.js"

/**
 * A server whose jobs never end: each job's change stream stays open until someone stops
 * reading it, and `watching()` counts the streams being read.
 */
const withCountedWatchers = (
  body: (s: { client: Client; server: McpServer; watching: () => number }) => Effect.Effect<void>
): Promise<void> => {
  let watching = 0
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-res-"))
  return Effect.runPromise(Effect.gen(function*() {
    const jobs = yield* Jobs
    const counted = Jobs.of({
      ...jobs,
      changes: () =>
        Stream.unwrap(Effect.sync(() => {
          watching++
          return Stream.never.pipe(Stream.ensuring(Effect.sync(() => void watching--)))
        }))
    })
    const server = new McpServer({ name: "t", version: "0" }, { capabilities: { resources: { subscribe: true } } })
    registerJobResources(server, Context.make(Jobs, counted))
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    yield* Effect.promise(() => server.connect(serverSide))
    const client = new Client({ name: "c", version: "0" })
    yield* Effect.promise(() => client.connect(clientSide))
    yield* body({ client, server, watching: () => watching })
  }).pipe(Effect.provide(layerConfig({ knownHostsPath: path.join(home, "known_hosts") }))))
}

/** Polls up to a second for the count of watchers to satisfy `done`. */
const until = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50 && !done(); i++) yield* Effect.sleep("20 millis")
  })

it("stops a session's resource watchers when its server closes", () =>
  withCountedWatchers(({ client, server, watching }) =>
    Effect.gen(function*() {
      yield* Effect.promise(() => client.subscribeResource({ uri: "ssh-job://j1/output" }))
      yield* Effect.promise(() => client.subscribeResource({ uri: "ssh-job://j2/output" }))
      yield* until(() => watching() >= 2)
      expect(watching()).toBe(2)
      yield* Effect.promise(() => server.close())
      yield* until(() => watching() === 0)
      expect(watching()).toBe(0)
    })
  ))

it("keeps one watcher per subscribed resource: a second subscribe adds none, unsubscribe stops it", () =>
  withCountedWatchers(({ client, server, watching }) =>
    Effect.gen(function*() {
      const uri = "ssh-job://j1/output"
      yield* Effect.promise(() => client.subscribeResource({ uri }))
      yield* Effect.promise(() => client.subscribeResource({ uri }))
      yield* until(() => watching() >= 1)
      yield* Effect.sleep("50 millis")
      expect(watching()).toBe(1)
      yield* Effect.promise(() => client.unsubscribeResource({ uri }))
      expect(watching()).toBe(0)
      // Subscribing again watches again.
      yield* Effect.promise(() => client.subscribeResource({ uri }))
      yield* until(() => watching() >= 1)
      expect(watching()).toBe(1)
      yield* Effect.promise(() => server.close())
      yield* until(() => watching() === 0)
      expect(watching()).toBe(0)
    })
  ))
