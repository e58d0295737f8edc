/**
 * Credentials: the authentication attempts for a host, in OpenSSH's spirit, and the
 * ssh2 auth handler that offers them one by one.
 *
 * @since 0.1.0
 */
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Redacted } from "effect"
import ssh2, { type AnyAuthMethod, type AuthenticationType } from "ssh2"
import { AuthError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"

export interface AuthAttempt {
  /** What the AUTH_FAILED message lists: the method and which key, never a secret. */
  readonly label: string
  readonly auth: AnyAuthMethod
}

const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p)

const secretFromEnv = (name: string | undefined): Redacted.Redacted<string> | undefined => {
  if (name === undefined) return undefined
  const value = process.env[name]
  return value === undefined ? undefined : Redacted.make(value)
}

/** The largest key file read (an RSA 16384-bit key in PEM is ~13 KB). */
const MAX_KEY_FILE = 1024 * 1024

/**
 * `file`'s bytes, when it is a regular file of at most `MAX_KEY_FILE` bytes: a device such as
 * /dev/zero, a FIFO or a huge file named as `key_path` is refused, not read. It is read for
 * authentication only; no error quotes its content.
 */
const readKeyFile = (file: string): Effect.Effect<Buffer, AuthError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
      try {
        const st = await handle.stat()
        if (!st.isFile()) throw new KeyFileRefused("not a regular file")
        if (st.size > MAX_KEY_FILE) throw new KeyFileRefused(`larger than ${MAX_KEY_FILE} bytes: not a private key`)
        return await handle.readFile()
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new AuthError({ message: `cannot read key_path ${file}: ${e instanceof KeyFileRefused ? e.message : (e as NodeJS.ErrnoException).code ?? "unreadable"}` })
  })

class KeyFileRefused extends Error {}

/**
 * The authentication attempts: the explicit key, the explicit password (also answered
 * to keyboard-interactive prompts), the agent, then the default key files (or
 * IdentityFile from ~/.ssh/config) when no key was given.
 */
export const authAttempts = (entry: HostEntry): Effect.Effect<Array<AuthAttempt>, AuthError> =>
  Effect.gen(function*() {
    const attempts: Array<AuthAttempt> = []
    const username = entry.user
    const passphrase = entry.auth.passphrase ?? secretFromEnv(entry.auth.passphraseEnv)
    if (entry.auth.passphraseEnv !== undefined && passphrase === undefined) {
      return yield* new AuthError({
        message: `environment variable ${entry.auth.passphraseEnv} (key passphrase) is not set`,
        hint: `export ${entry.auth.passphraseEnv} in the server's environment`
      })
    }
    if (entry.auth.keyPath !== undefined) {
      const file = expandHome(entry.auth.keyPath)
      const text = yield* readKeyFile(file)
      const parsed = ssh2.utils.parseKey(text, passphrase === undefined ? undefined : Redacted.value(passphrase))
      if (parsed instanceof Error) {
        const encrypted = passphrase === undefined && /encrypted|passphrase/i.test(parsed.message)
        return yield* new AuthError({
          // ssh2's parse errors may quote pieces of the file (a key type, a cipher name): never shown.
          message: passphrase === undefined
            ? `cannot use key ${file}: ${encrypted ? "it is encrypted" : "not a private key in a format we read (OpenSSH, PEM, PuTTY)"}`
            : `cannot decrypt key ${file}: wrong passphrase or unsupported key`,
          ...(encrypted ? { hint: "the key is encrypted: give passphrase (or key_passphrase_env in config)" } : {})
        })
      }
      attempts.push({
        label: `publickey (${file})`,
        auth: { type: "publickey", username, key: text, ...(passphrase === undefined ? {} : { passphrase: Redacted.value(passphrase) }) }
      })
    }
    const password = entry.auth.password ?? secretFromEnv(entry.auth.passwordEnv)
    if (entry.auth.passwordEnv !== undefined && password === undefined) {
      return yield* new AuthError({
        message: `environment variable ${entry.auth.passwordEnv} (password) is not set`,
        hint: `export ${entry.auth.passwordEnv} in the server's environment`
      })
    }
    if (password !== undefined) {
      attempts.push({ label: "password", auth: { type: "password", username, password: Redacted.value(password) } })
      attempts.push({
        label: "keyboard-interactive",
        auth: {
          type: "keyboard-interactive",
          username,
          prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => Redacted.value(password)))
        }
      })
    }
    const agent = process.env.SSH_AUTH_SOCK
    if (agent !== undefined && agent !== "") {
      attempts.push({ label: "agent", auth: { type: "agent", username, agent } })
    }
    if (entry.auth.keyPath === undefined) {
      // IdentityFile from ~/.ssh/config replaces OpenSSH's default key files, as in ssh.
      const files = entry.auth.identityFiles ?? ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => path.join(os.homedir(), ".ssh", n))
      for (const name of files) {
        const file = expandHome(name)
        const read = yield* Effect.option(readKeyFile(file))
        if (read._tag === "None") continue
        const text = read.value
        const parsed = ssh2.utils.parseKey(text, passphrase === undefined ? undefined : Redacted.value(passphrase))
        if (parsed instanceof Error) continue
        attempts.push({ label: `publickey (${file})`, auth: { type: "publickey", username, key: text } })
      }
    }
    return attempts
  })

/**
 * ssh2's authHandler as its runtime calls it: `methodsLeft` is null on the first call, and
 * `next(false)` stops trying (@types/ssh2 has neither; src/ssh/ssh2.d.ts adds this shape).
 */
export type AuthHandler = (
  methodsLeft: Array<AuthenticationType> | null,
  partialSuccess: boolean | null,
  next: (auth: AnyAuthMethod | false) => void
) => void

/** What the handler tried, for the AUTH_FAILED message and `ConnectionInfo.authMethod`. */
export interface AuthProgress {
  readonly tried: Array<string>
  lastMethod: string
}

/** Offers `attempts` in order, skipping methods the server no longer accepts; false when none is left. */
export const authHandler = (attempts: ReadonlyArray<AuthAttempt>, progress: AuthProgress): AuthHandler => {
  const left = [...attempts]
  return (methodsLeft, _partial, next) => {
    for (let attempt = left.shift(); attempt !== undefined; attempt = left.shift()) {
      if (methodsLeft !== null && !methodsLeft.includes(attempt.auth.type)) continue
      progress.tried.push(attempt.label)
      progress.lastMethod = attempt.auth.type
      return next(attempt.auth)
    }
    return next(false)
  }
}
