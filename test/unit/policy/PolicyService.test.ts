/**
 * The `Policy` service and the tools' gate over it, without MCP or SSH: which rules a
 * host gets (configured alias, runtime alias at a configured address, default host),
 * `checkTunnel` (the API the tunnel tools call), and `enforcePolicyEach` (the API of
 * `ssh_exec_many`): one check per host in input order, a cancelled question failing the
 * whole call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AppConfig } from "../../../src/domain/AppConfig.js"
import type { HostConfig } from "../../../src/domain/hosts.js"
import type { PolicyRules } from "../../../src/domain/policyRules.js"
import { enforcePolicy, enforcePolicyEach } from "../../../src/mcp/tools/policyGate.js"
import type { ElicitAnswer, ElicitForm, ToolContext } from "../../../src/mcp/tools/Tool.js"
import { HostRegistry } from "../../../src/services/HostRegistry.js"
import { Policy } from "../../../src/services/Policy.js"

const host = (alias: string, port: number, policy?: PolicyRules): HostConfig => ({
  alias,
  host: "10.0.0.1",
  port,
  source: "config-file",
  ...(policy !== undefined ? { policy } : {})
})

const layer = (global: PolicyRules | undefined, hosts: ReadonlyArray<HostConfig>, defaultHost?: string) =>
  Layer.mergeAll(Policy.layer, HostRegistry.layer).pipe(
    Layer.provideMerge(Layer.provideMerge(HostRegistry.layer, AppConfig.layer({
      hosts,
      ...(global !== undefined ? { policy: global } : {}),
      ...(defaultHost !== undefined ? { defaultHost } : {})
    })))
  )

const HOSTS = [
  host("web1", 22, { deny: ["reboot"], tunnels: true }),
  host("db", 2222, { readOnly: true }),
  host("plain", 22)
]

const context = (answers: ReadonlyArray<ElicitAnswer["action"] | "run" | "refuse"> | undefined): { ctx: ToolContext; asked: Array<ElicitForm> } => {
  const asked: Array<ElicitForm> = []
  return {
    asked,
    ctx: {
      elicit: answers === undefined ? undefined : (form) =>
        Effect.sync(() => {
          const a = answers[asked.length] ?? "cancel"
          asked.push(form)
          return a === "run" || a === "refuse" ? { action: "accept", content: { decision: a } } : { action: a }
        }),
      signal: new AbortController().signal,
      wantsProgress: false,
      progress: () => Effect.void
    }
  }
}

describe("Policy", () => {
  it.effect("is off without rules", () =>
    Effect.gen(function*() {
      const policy = yield* Policy
      assert.isFalse(policy.enabled)
      assert.deepStrictEqual(yield* policy.decide("plain", { _tag: "Command", command: "rm -rf /" }), { _tag: "Allow", host: "plain" })
      assert.isNull(yield* policy.describe("plain"))
    }).pipe(Effect.provide(layer(undefined, [host("plain", 22)]))))

  it.effect("checkTunnel: refused by tunnels = false, the host's switch replacing the global one", () =>
    Effect.gen(function*() {
      const policy = yield* Policy
      yield* policy.checkTunnel("web1")
      const refused = yield* Effect.flip(policy.checkTunnel("plain"))
      assert.strictEqual(refused.code, "POLICY_DENIED")
      assert.include(refused.message, "host 'plain': tunnels = false of [policy]")
      const db = yield* Effect.flip(policy.checkTunnel("db"))
      assert.include(db.message, "tunnels = false of [policy]")
    }).pipe(Effect.provide(layer({ tunnels: false }, HOSTS))))

  it.effect("the default host when none is named; HOST_NOT_FOUND when there is none", () =>
    Effect.gen(function*() {
      const policy = yield* Policy
      const d = yield* Effect.flip(policy.decide(undefined, { _tag: "Command", command: "touch x" }))
      assert.strictEqual(d.message, "refused on host 'db': read_only of [hosts.db.policy] (\"touch\" is not on the read-only list)")
    }).pipe(Effect.provide(layer({ deny: ["zzz"] }, HOSTS, "db"))))

  it.effect("no host and no default: HOST_NOT_FOUND", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip((yield* Policy).decide(undefined, { _tag: "Tunnel" }))
      assert.strictEqual(e.code, "HOST_NOT_FOUND")
    }).pipe(Effect.provide(layer({ deny: ["x"] }, HOSTS))))

  it.effect("a runtime alias at a configured host's address gets its rules; a configured alias only its own", () =>
    Effect.gen(function*() {
      const registry = yield* HostRegistry
      const policy = yield* Policy
      yield* registry.register({ alias: "twin", address: "10.0.0.1", port: 2222, user: "u", auth: {}, source: "runtime", insecureAutoAdd: false })
      yield* registry.register({ alias: "other", address: "10.0.0.9", port: 22, user: "u", auth: {}, source: "runtime", insecureAutoAdd: false })
      assert.deepStrictEqual(yield* policy.describe("twin"), { read_only: true, deny: ["g"] })
      assert.deepStrictEqual(yield* policy.describe("other"), { deny: ["g"] })
      assert.deepStrictEqual(yield* policy.describe("plain"), { deny: ["g"] })
      assert.deepStrictEqual(yield* policy.describe("web1"), { deny: ["g", "reboot"], tunnels: true })
    }).pipe(Effect.provide(layer({ deny: ["g"] }, HOSTS))))
})

describe("enforcePolicy / enforcePolicyEach", () => {
  const rules: PolicyRules = { confirm: ["restart"], deny: ["rm -rf"] }
  const restart = { _tag: "Command", command: "systemctl restart app" } as const

  it.effect("confirm: runs on 'run', POLICY_DENIED on 'refuse', CONFIRMATION_UNAVAILABLE without elicitation", () =>
    Effect.gen(function*() {
      const yes = context(["run"])
      yield* enforcePolicy(yes.ctx, "web1", restart)
      assert.include(yes.asked[0]!.message, "\"systemctl restart app\"")
      assert.include(yes.asked[0]!.message, "confirm rule \"restart\" of [policy] matched")
      const no = yield* Effect.flip(enforcePolicy(context(["refuse"]).ctx, "web1", restart))
      assert.strictEqual(no.code, "POLICY_DENIED")
      assert.deepInclude(no, { _tag: "PolicyDeniedError", by: "user-refused", host: "web1" })
      const cancelled = yield* Effect.flip(enforcePolicy(context(["cancel"]).ctx, "web1", restart))
      assert.deepInclude(cancelled, { _tag: "PolicyDeniedError", by: "user-cancelled" })
      const ruled = yield* Effect.flip(enforcePolicy(context(["run"]).ctx, "web1", { _tag: "Command", command: "rm -rf /" }))
      assert.deepInclude(ruled, { _tag: "PolicyDeniedError", by: "rule", host: "web1" })
      const unavailable = yield* Effect.flip(enforcePolicy(context(undefined).ctx, "web1", restart))
      assert.strictEqual(unavailable.code, "CONFIRMATION_UNAVAILABLE")
    }).pipe(Effect.provide(layer(rules, HOSTS))))

  it.effect("each host once, in input order: per-host refusals, the others go ahead", () =>
    Effect.gen(function*() {
      const { ctx, asked } = context(["run", "refuse"])
      const out = yield* enforcePolicyEach(ctx, ["plain", "web1", "db"], restart)
      assert.strictEqual(asked.length, 2)
      assert.include(asked[0]!.message, "\"plain\"")
      assert.include(asked[1]!.message, "\"web1\"")
      assert.isUndefined(out[0])
      assert.strictEqual(out[1]?.code, "POLICY_DENIED")
      assert.strictEqual(out[2]?.code, "POLICY_DENIED") // db is read-only: never asked
      const denied = yield* enforcePolicyEach(ctx, ["plain", "web1"], { _tag: "Command", command: "rm -rf /" })
      assert.deepStrictEqual(denied.map((e) => e?.code), ["POLICY_DENIED", "POLICY_DENIED"])
    }).pipe(Effect.provide(layer(rules, HOSTS))))

  it.effect("a cancelled question (or one still pending in a 2026-07-28 round) fails the whole call", () =>
    Effect.gen(function*() {
      const { ctx, asked } = context(["run", "cancel"])
      const e = yield* Effect.flip(enforcePolicyEach(ctx, ["plain", "web1"], restart))
      assert.strictEqual(e.code, "POLICY_DENIED")
      assert.strictEqual(e.by, "user-cancelled")
      assert.strictEqual(asked.length, 2)
    }).pipe(Effect.provide(layer(rules, HOSTS))))
})

describe("Policy.layer", () => {
  it.effect("rules that do not compile (a library user's AppConfig) fail the layer with CONFIG_INVALID naming the key", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(Layer.build(layer({ deny: ["("] }, HOSTS))))
      assert.strictEqual(e.code, "CONFIG_INVALID")
      assert.include(e.message, "policy [policy] deny[0]")
    }))
})
