/** Aliases are [A-Za-z0-9._-]{1,64} wherever they are defined (issue 13, point 11). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { loadConfig } from "../../src/config/loadConfig.js"
import { AppConfig } from "../../src/domain/AppConfig.js"
import { aliasForHost, HostRegistry } from "../../src/services/HostRegistry.js"
import { sshConnect } from "../../src/mcp/tools/ssh_connect.js"
import { sshExec } from "../../src/mcp/tools/ssh_exec.js"
import { sshExecMany } from "../../src/mcp/tools/ssh_exec_many.js"
import { sshListJobs } from "../../src/mcp/tools/ssh_list_jobs.js"
import { parseHostFlag } from "../../src/config/hostFlag.js"

describe("aliases are [A-Za-z0-9._-]{1,64} everywhere", () => {
  it("derives a valid alias from an IPv6 address or an odd host", () => {
    expect(aliasForHost("example.com")).toBe("example.com")
    expect(aliasForHost("::1")).toBe("__1")
    expect(aliasForHost("fe80::1%eth0")).toBe("fe80__1_eth0")
    expect(aliasForHost("h".repeat(200))).toHaveLength(64)
  })

  const error = (argv: Array<string>, file?: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alias-cfg-"))
    const args = [...argv]
    if (file !== undefined) {
      fs.writeFileSync(path.join(dir, "c.toml"), file)
      args.push("--config", path.join(dir, "c.toml"))
    }
    const exit = Effect.runSyncExit(loadConfig(args, { HOME: dir }))
    return Exit.isFailure(exit) ? JSON.stringify(exit.cause) : undefined
  }

  it("in --host and in the config file", () => {
    expect(error(["--host", `${"a".repeat(65)}=127.0.0.1`])).toMatch(/--host/)
    expect(error(["--host", `${"a".repeat(64)}=127.0.0.1`])).toBeUndefined()
    expect(error([], `[hosts.${"b".repeat(65)}]\nhost = "h"\n`)).toMatch(/hosts/)
    expect(error([], `[hosts.${"b".repeat(64)}]\nhost = "h"\n`)).toBeUndefined()
  })

  it("in the library's HostRegistry.register", async () => {
    const register = (alias: string) =>
      Effect.runPromiseExit(
        Effect.gen(function*() {
          const registry = yield* HostRegistry
          return yield* registry.register({ alias, address: "h", port: 22, user: "u", auth: {}, source: "runtime", insecureAutoAdd: false })
        }).pipe(Effect.provide(HostRegistry.layer.pipe(Layer.provide(AppConfig.layer()))))
      )
    const bad = await register("box\nTRUST ME")
    expect(Exit.isFailure(bad) && JSON.stringify(bad.cause)).toMatch(/INVALID_ARGUMENT|InvalidArgumentError/)
    expect(Exit.isSuccess(await register("box-1.prod_2"))).toBe(true)
  })

  it("in --host's parser", () => {
    expect(parseHostFlag(`${"a".repeat(64)}=127.0.0.1`)?.alias).toBe("a".repeat(64))
    expect(parseHostFlag(`${"a".repeat(65)}=127.0.0.1`)).toBeUndefined()
    expect(parseHostFlag("a b=127.0.0.1")).toBeUndefined()
  })

  it("at the MCP edge: every tool field that names a host by alias, one rule (the domain's Alias)", () => {
    const ok = (schema: Schema.Codec<unknown, unknown>, input: unknown) => Exit.isSuccess(Schema.decodeUnknownExit(schema)(input))
    const exec = sshExec.input as Schema.Codec<unknown, unknown>
    expect(ok(exec, { command: "true", host: "a".repeat(64) })).toBe(true)
    expect(ok(exec, { command: "true", host: "a".repeat(65) })).toBe(false)
    expect(ok(exec, { command: "true", host: "box\nTRUST ME" })).toBe(false)
    const many = sshExecMany.input as Schema.Codec<unknown, unknown>
    expect(ok(many, { command: "true", hosts: ["a1", "a 2"] })).toBe(false)
    expect(ok(many, { command: "true", group: "g".repeat(65) })).toBe(false)
    expect(ok(sshListJobs.input as Schema.Codec<unknown, unknown>, { host: "a".repeat(65) })).toBe(false)
    const connect = sshConnect.input as Schema.Codec<unknown, unknown>
    expect(ok(connect, { host: "h", alias: "a".repeat(65) })).toBe(false)
    expect(ok(connect, { host: "h", groups: ["web", "no way"] })).toBe(false)
    // A host to dial is a hostname: at most 253 characters.
    expect(ok(connect, { host: "h".repeat(253) })).toBe(true)
    expect(ok(connect, { host: "h".repeat(254) })).toBe(false)
  })
})
