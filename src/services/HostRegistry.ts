/**
 * The registry of hosts by alias: those configured before start and those added
 * at runtime by `ssh_connect`. It holds how to reach and authenticate to a host;
 * live connections are the `Connections` service's business.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import { Context, Effect, Layer, Redacted, Ref } from "effect"
import { expandTokens } from "../config/sshTokens.js"
import { type HostAuth, type HostEntry, isAlias } from "../domain/hosts.js"
import { AppConfig } from "../domain/AppConfig.js"
import { HostExistsError, HostNotFoundError, InvalidArgumentError, LimitReachedError } from "../domain/errors.js"

/**
 * The alias `ssh_connect` gives a host when the agent names none: the host itself when it
 * is a valid alias, else the host with every other character turned into `_`, cut to 64
 * (`::1` → `__1`).
 */
export const aliasForHost = (host: string): string => host.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64)

/** The configured auth method as `ssh_list_hosts` shows it: names, never secrets. */
export const authMethodOf = (auth: HostAuth): string => {
  const methods: Array<string> = []
  if (auth.keyPath !== undefined) methods.push("key")
  if (auth.password !== undefined || auth.passwordEnv !== undefined) methods.push("password")
  return methods.length === 0 ? "agent/default-keys" : methods.join("+")
}

const sameSettings = (a: HostEntry, b: HostEntry): boolean =>
  a.address === b.address && a.port === b.port && a.user === b.user &&
  a.auth.keyPath === b.auth.keyPath && a.auth.passwordEnv === b.auth.passwordEnv &&
  a.auth.passphraseEnv === b.auth.passphraseEnv &&
  (a.auth.password === undefined) === (b.auth.password === undefined) &&
  (a.auth.password === undefined || b.auth.password === undefined ||
    Redacted.value(a.auth.password) === Redacted.value(b.auth.password)) &&
  a.insecureAutoAdd === b.insecureAutoAdd &&
  (a.proxyJump ?? []).map((j) => `${j.user}@${j.address}:${j.port}`).join(",") ===
    (b.proxyJump ?? []).map((j) => `${j.user}@${j.address}:${j.port}`).join(",")

/** The host registry. */
export class HostRegistry extends Context.Service<HostRegistry, {
  /**
   * Register `entry`. Re-using an alias with other settings fails unless `replace`; a new alias
   * past `max_hosts` fails; so does an alias outside `ALIAS_PATTERN`.
   */
  register(
    entry: HostEntry,
    options?: { readonly replace?: boolean }
  ): Effect.Effect<HostEntry, HostExistsError | LimitReachedError | InvalidArgumentError>
  /** The entry for `alias`, or for the default host when `alias` is undefined. */
  resolve(alias: string | undefined): Effect.Effect<HostEntry, HostNotFoundError>
  /** Drop `alias`; returns whether it was there. */
  remove(alias: string): Effect.Effect<boolean>
  readonly list: Effect.Effect<ReadonlyArray<HostEntry>>
  /**
   * The alias used when a tool is given no `host`: the configured default, else the first
   * host connected (while it stays registered), else the only host.
   */
  readonly defaultAlias: Effect.Effect<string | undefined>
  /** `alias` is connected (Connections tells): the first one becomes the default until one is set. */
  connected(alias: string): Effect.Effect<void>
  /**
   * Put registered `alias` in each of `groups` (created when new; a member already is one).
   * Group names follow `ALIAS_PATTERN`.
   */
  join(alias: string, groups: ReadonlyArray<string>): Effect.Effect<void, HostNotFoundError | InvalidArgumentError>
  /**
   * The aliases of group `name`, in the order they joined (INVALID_ARGUMENT naming `group`
   * when there is no such group). A host dropped by `remove` leaves its groups; a group
   * whose hosts all left stays, empty.
   */
  group(name: string): Effect.Effect<ReadonlyArray<string>, InvalidArgumentError>
  /** Every group and its aliases. */
  readonly groups: Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>>
}>()("mcp-ssh-live/HostRegistry") {
  static readonly layer = Layer.effect(HostRegistry)(Effect.gen(function*() {
    const config = yield* AppConfig
    const initial = new Map<string, HostEntry>()
    for (const h of config.hosts) {
      initial.set(h.alias, {
        alias: h.alias,
        address: h.host,
        port: h.port,
        user: h.user ?? defaultUser(),
        auth: {
          ...(h.key !== undefined ? { keyPath: h.key } : {}),
          ...(h.passwordEnv !== undefined ? { passwordEnv: h.passwordEnv } : {}),
          ...(h.keyPassphraseEnv !== undefined ? { passphraseEnv: h.keyPassphraseEnv } : {}),
          ...(h.sudoPasswordEnv !== undefined ? { sudoPasswordEnv: h.sudoPasswordEnv } : {}),
          ...(h.sudoWithLoginPassword !== undefined ? { sudoWithLoginPassword: h.sudoWithLoginPassword } : {})
        },
        source: h.source,
        insecureAutoAdd: config.insecureAutoAdd,
        // The operator's proxy_command, run as ssh runs ProxyCommand (`%h %p %r %n %%`).
        ...(h.proxyCommand !== undefined
          ? {
            proxyCommand: expandTokens(h.proxyCommand, {
              hostName: h.host,
              original: h.alias,
              port: h.port,
              user: h.user ?? defaultUser(),
              localUser: defaultUser(),
              home: os.homedir()
            }, "hnpr")
          }
          : {})
      })
    }
    const hosts = yield* Ref.make(initial)
    const groups = yield* Ref.make(new Map<string, ReadonlyArray<string>>(Object.entries(config.groups ?? {})))
    const explicitDefault = yield* Ref.make<string | undefined>(config.defaultHost)
    /** The first host connected: the default when none is set, so a second host does not silently unset it. */
    const firstConnected = yield* Ref.make<string | undefined>(undefined)

    const defaultAlias = Effect.gen(function*() {
      const d = yield* Ref.get(explicitDefault)
      const map = yield* Ref.get(hosts)
      if (d !== undefined && map.has(d)) return d
      const first = yield* Ref.get(firstConnected)
      if (first !== undefined && map.has(first)) return first
      // With exactly one host there is no ambiguity about which one is meant.
      return map.size === 1 ? map.keys().next().value : undefined
    })

    return HostRegistry.of({
      register: (entry, options) =>
        !isAlias(entry.alias)
          ? Effect.fail(new InvalidArgumentError({ message: `alias: ${JSON.stringify(entry.alias)} is not 1-64 of A-Z a-z 0-9 . _ -` }))
          : Ref.modify(hosts, (map): [Effect.Effect<HostEntry, HostExistsError | LimitReachedError>, Map<string, HostEntry>] => {
            const existing = map.get(entry.alias)
            if (existing === undefined && map.size >= config.limits.maxHosts) {
              return [
                Effect.fail(
                  new LimitReachedError({
                    message: `${map.size} hosts are registered, the limit (max_hosts) is ${config.limits.maxHosts}`,
                    hint: "ssh_disconnect a host you no longer need, or reuse an alias; the operator sets --max-hosts",
                    limit: "max_hosts",
                    max: config.limits.maxHosts
                  })
                ),
                map
              ]
            }
            if (existing !== undefined && options?.replace !== true && !sameSettings(existing, entry)) {
              return [
                Effect.fail(
                  new HostExistsError({
                    message: `alias '${entry.alias}' is already registered (${existing.user}@${existing.address}:${existing.port}) with other settings`,
                    hint: "pass replace: true to replace it, or choose another alias",
                    host: entry.alias
                  })
                ),
                map
              ]
            }
            const next = new Map(map)
            next.set(entry.alias, entry)
            return [Effect.succeed(entry), next]
          }).pipe(Effect.flatten),
      resolve: (alias) =>
        Effect.gen(function*() {
          const name = alias ?? (yield* defaultAlias)
          const map = yield* Ref.get(hosts)
          if (name === undefined) {
            return yield* new HostNotFoundError({
              message: map.size === 0 ? "no host given and none is registered" : "no host given and no default host is set",
              hint: map.size === 0
                ? "call ssh_connect first, or configure hosts"
                : `pass host: one of ${[...map.keys()].join(", ")}`
            })
          }
          const entry = map.get(name)
          if (entry === undefined) {
            return yield* new HostNotFoundError({
              message: `no host with alias '${name}'`,
              hint: map.size === 0
                ? "call ssh_connect to register it"
                : `known aliases: ${[...map.keys()].join(", ")}; or call ssh_connect`,
              host: name
            })
          }
          return entry
        }),
      remove: (alias) =>
        Effect.tap(
          Ref.modify(hosts, (map): [boolean, Map<string, HostEntry>] => {
            if (!map.has(alias)) return [false, map]
            const next = new Map(map)
            next.delete(alias)
            return [true, next]
          }),
          (removed) =>
            removed
              ? Effect.andThen(
                Ref.update(groups, (map) => new Map([...map].map(([name, members]) => [name, members.filter((m) => m !== alias)]))),
                Ref.update(firstConnected, (first) => first === alias ? undefined : first)
              )
              : Effect.void
        ),
      list: Effect.map(Ref.get(hosts), (m) => [...m.values()]),
      defaultAlias,
      connected: (alias) =>
        Effect.flatMap(Ref.get(hosts), (map) =>
          Ref.update(firstConnected, (first) => first !== undefined && map.has(first) ? first : map.has(alias) ? alias : first)),
      join: (alias, names) =>
        Effect.gen(function*() {
          const bad = names.find((n) => !isAlias(n))
          if (bad !== undefined) {
            return yield* new InvalidArgumentError({ message: `groups: ${JSON.stringify(bad)} is not 1-64 of A-Z a-z 0-9 . _ -` })
          }
          if (!(yield* Ref.get(hosts)).has(alias)) {
            return yield* new HostNotFoundError({ message: `no host with alias '${alias}'`, host: alias })
          }
          yield* Ref.update(groups, (map) => {
            const next = new Map(map)
            for (const name of names) {
              const members = next.get(name) ?? []
              if (!members.includes(alias)) next.set(name, [...members, alias])
            }
            return next
          })
        }),
      group: (name) =>
        Effect.flatMap(Ref.get(groups), (map) => {
          const members = map.get(name)
          if (members !== undefined) return Effect.succeed(members)
          return Effect.fail(
            new InvalidArgumentError({
              message: `group: no group '${name}'`,
              hint: map.size === 0
                ? "no groups are defined: [groups] in the config file, or ssh_connect with groups"
                : `groups: ${[...map.keys()].join(", ")}`
            })
          )
        }),
      groups: Ref.get(groups)
    })
  }))
}

/** The local user name, OpenSSH's default remote user. */
export const defaultUser = (): string => process.env.USER ?? process.env.LOGNAME ?? "root"
