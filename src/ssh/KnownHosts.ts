/**
 * Host key verification against OpenSSH known_hosts files, plus the keys trusted
 * for this session only. A changed key is never accepted.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Context, Effect, Layer, Ref } from "effect"
import {
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  knownKeyTypes,
  type KnownHostsVerdict,
  verifyKnownHosts
} from "./KnownHostsFile.js"
import { AppConfig } from "../domain/AppConfig.js"

/** OpenSSH's system-wide file; read (never written) when it exists. */
const GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"

const readText = (file: string) =>
  Effect.promise(() => fs.readFile(file, "utf8").catch(() => ""))

export class KnownHosts extends Context.Service<KnownHosts, {
  /**
   * The verdict for a server key: Mismatch (same type, other key, or revoked) in any file wins;
   * then Match in any file or this session's trust; then OtherType (only keys of other types are
   * known: a changed key too); else Unknown.
   */
  check(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<KnownHostsVerdict>
  /** The key types known for the host in any file or this session's trust. */
  knownTypes(host: string, port: number): Effect.Effect<ReadonlyArray<string>>
  /** Append the key to the user known_hosts file. */
  save(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<void, Error>
  /** Trust the key until this server stops. */
  trustForSession(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<void>
  readonly path: string
}>()("mcp-ssh-live/KnownHosts") {
  static readonly layer = Layer.effect(KnownHosts)(Effect.gen(function*() {
    const config = yield* AppConfig
    const file = config.knownHostsPath
    const session = yield* Ref.make<ReadonlyArray<string>>([])

    const texts = Effect.gen(function*() {
      return [yield* readText(file), yield* readText(GLOBAL_KNOWN_HOSTS), (yield* Ref.get(session)).join("\n")]
    })

    const check = (host: string, port: number, keyBlob: Uint8Array) =>
      Effect.gen(function*() {
        const type = keyTypeOfBlob(keyBlob)
        let verdict: KnownHostsVerdict = { _tag: "Unknown" }
        for (const text of yield* texts) {
          const v = verifyKnownHosts(text, host, port, type, keyBlob)
          if (v._tag === "Mismatch") return v
          if (v._tag === "Match" || (v._tag === "OtherType" && verdict._tag === "Unknown")) verdict = v
        }
        return verdict
      })

    return KnownHosts.of({
      check,
      knownTypes: (host, port) =>
        Effect.map(texts, (all) => [...new Set(all.flatMap((text) => knownKeyTypes(text, host, port)))]),
      save: (host, port, keyBlob) =>
        Effect.tryPromise({
          try: async () => {
            await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
            const existing = await fs.readFile(file, "utf8").catch(() => "")
            const sep = existing.length > 0 && !existing.endsWith("\n") ? "\n" : ""
            await fs.appendFile(file, sep + formatKnownHostsLine(host, port, keyTypeOfBlob(keyBlob), keyBlob) + "\n", {
              mode: 0o600
            })
          },
          catch: (e) => new Error(`cannot write ${file}: ${(e as Error).message}`)
        }),
      trustForSession: (host, port, keyBlob) =>
        Ref.update(session, (lines) => [...lines, formatKnownHostsLine(host, port, keyTypeOfBlob(keyBlob), keyBlob)]),
      path: file
    })
  }))
}

export { fingerprintSha256 }
