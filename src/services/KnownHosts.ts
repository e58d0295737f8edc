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
  type KnownHostsVerdict,
  verifyKnownHosts
} from "../ssh/KnownHostsFile.js"
import { AppConfig } from "./AppConfig.js"

/** OpenSSH's system-wide file; read (never written) when it exists. */
const GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"

const readText = (file: string) =>
  Effect.promise(() => fs.readFile(file, "utf8").catch(() => ""))

export class KnownHosts extends Context.Service<KnownHosts, {
  /** The verdict for a server key: Match in any file or this session's trust; Mismatch wins over Match. */
  check(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<KnownHostsVerdict>
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

    const check = (host: string, port: number, keyBlob: Uint8Array) =>
      Effect.gen(function*() {
        const type = keyTypeOfBlob(keyBlob)
        const texts = [yield* readText(file), yield* readText(GLOBAL_KNOWN_HOSTS), (yield* Ref.get(session)).join("\n")]
        let verdict: KnownHostsVerdict = { _tag: "Unknown" }
        for (const text of texts) {
          const v = verifyKnownHosts(text, host, port, type, keyBlob)
          if (v._tag === "Mismatch") return v
          if (v._tag === "Match") verdict = v
        }
        return verdict
      })

    return KnownHosts.of({
      check,
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
