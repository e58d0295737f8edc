/** Aliases are [A-Za-z0-9._-]{1,64} wherever they are defined (issue 13, point 11). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { loadConfig } from "../../src/config/loadConfig.js"
import { AppConfig } from "../../src/domain/AppConfig.js"
import { aliasForHost, HostRegistry } from "../../src/services/HostRegistry.js"

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
})
