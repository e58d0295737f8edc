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

it("stops a session's resource watchers when its server closes", async () => {
  let watching = 0
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-res-"))
  await Effect.runPromise(Effect.gen(function*() {
    const jobs = yield* Jobs
    // A job that never ends: its change stream stays open until someone stops reading it.
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
    yield* Effect.promise(() => client.subscribeResource({ uri: "ssh-job://j1/output" }))
    yield* Effect.promise(() => client.subscribeResource({ uri: "ssh-job://j2/output" }))
    for (let i = 0; i < 50 && watching < 2; i++) yield* Effect.sleep("20 millis")
    expect(watching).toBe(2)
    yield* Effect.promise(() => server.close())
    for (let i = 0; i < 50 && watching > 0; i++) yield* Effect.sleep("20 millis")
    expect(watching).toBe(0)
  }).pipe(Effect.provide(layerConfig({ knownHostsPath: path.join(home, "known_hosts") }))))
})

it("keeps one watcher per subscribed resource: a second subscribe adds none, unsubscribe stops it", async () => {
  let watching = 0
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-res-"))
  await Effect.runPromise(Effect.gen(function*() {
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
    const uri = "ssh-job://j1/output"
    yield* Effect.promise(() => client.subscribeResource({ uri }))
    yield* Effect.promise(() => client.subscribeResource({ uri }))
    for (let i = 0; i < 50 && watching < 1; i++) yield* Effect.sleep("20 millis")
    yield* Effect.sleep("50 millis")
    expect(watching).toBe(1)
    yield* Effect.promise(() => client.unsubscribeResource({ uri }))
    expect(watching).toBe(0)
    // Subscribing again watches again.
    yield* Effect.promise(() => client.subscribeResource({ uri }))
    for (let i = 0; i < 50 && watching < 1; i++) yield* Effect.sleep("20 millis")
    expect(watching).toBe(1)
    yield* Effect.promise(() => server.close())
    for (let i = 0; i < 50 && watching > 0; i++) yield* Effect.sleep("20 millis")
    expect(watching).toBe(0)
  }).pipe(Effect.provide(layerConfig({ knownHostsPath: path.join(home, "known_hosts") }))))
})
