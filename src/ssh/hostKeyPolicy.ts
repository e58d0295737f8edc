/**
 * The host-key decision, made before any credential is sent: the known_hosts verdict
 * (a key of another type than the known one(s) is a changed key too), then for an
 * unknown key the operator's or agent's auto-add, else the caller's question (e.g. MCP
 * elicitation), else refusal.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HostKeyMismatchError, HostKeyUnknownError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import type { KnownHostsVerdict } from "./KnownHostsFile.js"
import { fingerprintSha256, keyTypeOfBlob } from "./KnownHostsFile.js"

/** What to do with an unknown host key when `insecure_auto_add` is off. */
export type UnknownHostKeyDecision = "refuse" | "session" | "save"

export interface UnknownHostKey {
  readonly alias: string
  readonly address: string
  readonly port: number
  readonly fingerprint: string
  readonly keyType: string
}

/** Asked when the host key is unknown; without it the key is refused. */
export type AskUnknownHostKey = (key: UnknownHostKey) => Effect.Effect<UnknownHostKeyDecision>

/** What the policy needs of the known_hosts files (the `KnownHosts` service). */
export interface HostKeyStore {
  check(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<KnownHostsVerdict>
  save(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<void, Error>
  trustForSession(host: string, port: number, keyBlob: Uint8Array): Effect.Effect<void>
  readonly path: string
}

export type HostKeyVerdict =
  | { readonly accept: true; readonly fingerprint: string }
  | { readonly accept: false; readonly fingerprint: string; readonly failure: HostKeyUnknownError | HostKeyMismatchError }

export interface HostKeyPolicy {
  readonly store: HostKeyStore
  /** Whether an agent may ask for insecure_auto_add (changes only the hint). */
  readonly allowAgentInsecureAutoAdd: boolean
  readonly ask?: AskUnknownHostKey | undefined
}

/** Decide about the key `key` a server offered as `entry`. */
export const decideHostKey = (policy: HostKeyPolicy, entry: HostEntry, key: Buffer): Effect.Effect<HostKeyVerdict> =>
  Effect.gen(function*() {
    const { store } = policy
    const fingerprint = fingerprintSha256(key)
    const verdict = yield* store.check(entry.address, entry.port, key)
    if (verdict._tag === "Match") return { accept: true, fingerprint }
    const where = `${entry.alias} (${entry.address}:${entry.port})`
    if (verdict._tag === "Mismatch" || verdict._tag === "OtherType") {
      // A key of another type than the known one(s) is a changed key too: we asked for the known
      // types first, so a server that still has its known key would have offered it.
      const what = verdict._tag === "Mismatch"
        ? `server offers ${fingerprint}, which differs from the ${verdict.knownKeyType} key`
        : `server offers a ${keyTypeOfBlob(key)} key ${fingerprint}, but only a ${verdict.knownKeyType} key is known for it`
      return {
        accept: false,
        fingerprint,
        failure: new HostKeyMismatchError({
          message: `host key for ${where} has CHANGED: ${what} in ${store.path} line ${verdict.line}. Possible man-in-the-middle attack; refused.`,
          hint: "if the host was really reinstalled, remove the old entry (ssh-keygen -R) and connect again",
          fingerprint
        })
      }
    }
    if (entry.insecureAutoAdd) {
      yield* store.save(entry.address, entry.port, key).pipe(
        Effect.catch((e) => Effect.logWarning(`insecure_auto_add: ${e.message}`))
      )
      yield* Effect.logWarning(`accepted and recorded unknown host key ${fingerprint} for ${where}`)
      return { accept: true, fingerprint }
    }
    const decision = policy.ask === undefined ? "refuse" : yield* policy.ask({
      alias: entry.alias,
      address: entry.address,
      port: entry.port,
      fingerprint,
      keyType: keyTypeOfBlob(key)
    })
    if (decision === "save") {
      yield* store.save(entry.address, entry.port, key).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
      return { accept: true, fingerprint }
    }
    if (decision === "session") {
      yield* store.trustForSession(entry.address, entry.port, key)
      return { accept: true, fingerprint }
    }
    return {
      accept: false,
      fingerprint,
      failure: new HostKeyUnknownError({
        message: `host key of ${where} is not in ${store.path}: ${fingerprint}`,
        hint: policy.allowAgentInsecureAutoAdd
          ? "verify the fingerprint out of band, then add it with ssh-keyscan, or connect with insecure_auto_add: true"
          : "ask the user to verify the fingerprint out of band and add the key to known_hosts (ssh-keyscan); a client with form elicitation lets the user trust it at connect time",
        fingerprint
      })
    }
  })
