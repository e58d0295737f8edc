import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { loadConfig } from "../../../src/config/loadConfig.js"
import { hostnameOfHostHeader, isLoopback } from "../../../src/loopback.js"

describe("loopback", () => {
  it("is all of 127.0.0.0/8, ::1 and localhost", () => {
    for (const h of ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.9"]) {
      expect(isLoopback(h), h).toBe(true)
    }
    for (const h of ["0.0.0.0", "::", "128.0.0.1", "10.0.0.1", "127.0.0.256", "127.0.0.1.evil.example", "localhost.evil", "[::2]", ""]) {
      expect(isLoopback(h), h).toBe(false)
    }
  })

  it("parses a Host header strictly", () => {
    expect(hostnameOfHostHeader("127.0.0.1:8765")).toBe("127.0.0.1")
    expect(hostnameOfHostHeader("[::1]:80")).toBe("[::1]")
    expect(hostnameOfHostHeader("localhost")).toBe("localhost")
    for (const bad of ["127.0.0.1:99999", "[::1", "a b", "user@127.0.0.1", "", "127.0.0.1:", "h:1:2"]) {
      expect(hostnameOfHostHeader(bad), bad).toBeUndefined()
    }
  })
})

describe("HTTP flags", () => {
  const load = (argv: Array<string>, env: Record<string, string> = {}) =>
    Effect.runSyncExit(loadConfig(argv, { HOME: "/nonexistent-home", ...env }))
  const serve = (argv: Array<string>, env: Record<string, string> = {}) => {
    const exit = load(argv, env)
    if (Exit.isFailure(exit) || exit.value._tag !== "Run") throw new Error(`expected Run: ${JSON.stringify(exit)}`)
    return exit.value.serve
  }
  const error = (argv: Array<string>, env: Record<string, string> = {}) =>
    Effect.runSync(Effect.flip(loadConfig(argv, { HOME: "/nonexistent-home", ...env }))).message

  it("defaults to 30 min idle and 64 sessions on 127.0.0.1", () => {
    expect(serve(["--http"])).toEqual({ _tag: "Http", port: 8765, bind: "127.0.0.1", sessionIdleSec: 1800, maxSessions: 64 })
    expect(serve(["--http", "--http-session-idle-sec", "5", "--http-max-sessions", "2", "--bind", "127.0.0.9"]))
      .toMatchObject({ sessionIdleSec: 5, maxSessions: 2, bind: "127.0.0.9" })
  })

  it("names the flag of a bad value", () => {
    expect(error(["--http", "--http-max-sessions", "0"])).toMatch(/--http-max-sessions: expected a positive integer/)
    expect(error(["--http", "--http-session-idle-sec", "1.5"])).toMatch(/--http-session-idle-sec: expected a positive integer/)
    expect(error(["--http-max-sessions", "3"])).toMatch(/--http-max-sessions applies to --http only/)
  })

  it("needs --allow-remote-bind and a 32-character token beyond loopback", () => {
    expect(error(["--http", "--bind", "0.0.0.0"])).toMatch(/--bind 0\.0\.0\.0: not a loopback address.*--allow-remote-bind/)
    expect(error(["--http", "--bind", "::", "--allow-remote-bind"], { MCP_SSH_LIVE_TOKEN: "x".repeat(31) })).toMatch(/at least 32/)
    expect(serve(["--http", "--bind", "::", "--allow-remote-bind"], { MCP_SSH_LIVE_TOKEN: "x".repeat(32) })).toMatchObject({ bind: "::" })
  })
})
