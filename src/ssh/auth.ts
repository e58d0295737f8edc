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
import ssh2, { type AnyAuthMethod, type AuthenticationType, type ParsedKey } from "ssh2"
import { AuthError } from "../domain/errors.js"
import type { HostEntry } from "../domain/hosts.js"
import { CertificateAgent } from "./agent.js"
import { type Certificate, certificateKey, parseCertificateText } from "./certificates.js"
import { type KeyboardHooks, keyboardPrompt } from "./keyboardInteractive.js"

export interface AuthAttempt {
  /** What the AUTH_FAILED message lists: the method and which key, never a secret. */
  readonly label: string
  readonly auth: AnyAuthMethod
  /** Offered only once the server has named its methods (ssh2 sends `none` first for it). */
  readonly needsMethods?: boolean
}

const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p)

const secretFromEnv = (name: string | undefined): Redacted.Redacted<string> | undefined => {
  if (name === undefined) return undefined
  const value = process.env[name]
  return value === undefined ? undefined : Redacted.make(value)
}

/** The largest key or certificate file read (an RSA 16384-bit key in PEM is ~13 KB). */
const MAX_KEY_FILE = 1024 * 1024

class KeyFileRefused extends Error {}

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

const readOrUndefined = (file: string) => Effect.map(Effect.option(readKeyFile(file)), (o) => o._tag === "Some" ? o.value : undefined)

const parsedKey = (text: Buffer, passphrase: string | undefined): ParsedKey | Error => {
  const parsed = ssh2.utils.parseKey(text, passphrase)
  return Array.isArray(parsed) ? parsed[0] ?? new Error("no key in the file") : parsed
}

/** A key file's public half: from the key itself, else from `<file>.pub` (an encrypted key). */
const publicKeyOf = (file: string, text: Buffer | undefined, passphrase: string | undefined) =>
  Effect.gen(function*() {
    const own = text === undefined ? undefined : parsedKey(text, passphrase)
    if (own !== undefined && !(own instanceof Error)) return Buffer.from(own.getPublicSSH())
    const pub = yield* readOrUndefined(`${file}.pub`)
    const parsed = pub === undefined ? undefined : parsedKey(pub, undefined)
    return parsed === undefined || parsed instanceof Error ? undefined : Buffer.from(parsed.getPublicSSH())
  })

/**
 * The authentication attempts: the explicit key, the explicit password (answering only
 * keyboard-interactive prompts that ask for it), the agent (IdentityAgent, else
 * SSH_AUTH_SOCK), then the default key files (or IdentityFile from ~/.ssh/config) when no
 * key was given, and keyboard-interactive for the prompts a person answers (`hooks`). A
 * key with a certificate (`<key>-cert.pub`, CertificateFile) is offered with it first.
 */
export const authAttempts = (entry: HostEntry, hooks: KeyboardHooks): Effect.Effect<Array<AuthAttempt>, AuthError> =>
  Effect.gen(function*() {
    const attempts: Array<AuthAttempt> = []
    const username = entry.user
    const passphrase = entry.auth.passphrase ?? secretFromEnv(entry.auth.passphraseEnv)
    const phrase = passphrase === undefined ? undefined : Redacted.value(passphrase)
    if (entry.auth.passphraseEnv !== undefined && passphrase === undefined) {
      return yield* new AuthError({
        message: `environment variable ${entry.auth.passphraseEnv} (key passphrase) is not set`,
        hint: `export ${entry.auth.passphraseEnv} in the server's environment`
      })
    }
    // Key files: the explicit one, else IdentityFile from ~/.ssh/config, else OpenSSH's defaults.
    const keyFiles = entry.auth.keyPath !== undefined
      ? [expandHome(entry.auth.keyPath)]
      : (entry.auth.identityFiles ?? ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => path.join(os.homedir(), ".ssh", n))).map(expandHome)
    const certificates: Array<Certificate> = []
    for (const file of [...(entry.auth.certificateFiles ?? []).map(expandHome), ...keyFiles.map((f) => `${f}-cert.pub`)]) {
      const text = yield* readOrUndefined(file)
      const cert = text === undefined ? undefined : parseCertificateText(text.toString("utf8"))
      if (cert !== undefined && !certificates.some((c) => c.blob.equals(cert.blob))) certificates.push(cert)
    }
    /** A key's attempts: with each certificate of it first, then on its own. */
    const keyAttempts = (file: string, key: ParsedKey, text: Buffer): Array<AuthAttempt> => [
      ...certificates.flatMap((cert) => {
        const withCert = certificateKey(key, cert)
        return withCert === undefined ? [] : [{ label: `publickey (${file}, certificate)`, auth: { type: "publickey" as const, username, key: withCert } }]
      }),
      { label: `publickey (${file})`, auth: { type: "publickey", username, key: text, ...(phrase === undefined ? {} : { passphrase: phrase }) } }
    ]
    const fileAttempts: Array<AuthAttempt> = []
    if (entry.auth.keyPath !== undefined) {
      const file = keyFiles[0]!
      const text = yield* readKeyFile(file)
      const parsed = parsedKey(text, phrase)
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
      attempts.push(...keyAttempts(file, parsed, text))
    } else {
      for (const file of keyFiles) {
        const text = yield* readOrUndefined(file)
        if (text === undefined) continue
        const parsed = parsedKey(text, phrase)
        if (parsed instanceof Error) continue
        fileAttempts.push(...keyAttempts(file, parsed, text))
      }
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
    }
    // IdentityAgent names the agent ("none": no agent), else SSH_AUTH_SOCK as ssh uses it.
    const agentSocket = entry.auth.identityAgent ?? process.env.SSH_AUTH_SOCK
    if (agentSocket !== undefined && agentSocket !== "" && agentSocket !== "none") {
      // IdentitiesOnly: the agent signs only with the keys the configuration names.
      const only = entry.auth.identitiesOnly === true
        ? (yield* Effect.forEach(keyFiles, (f) => Effect.flatMap(readOrUndefined(f), (t) => publicKeyOf(f, t, phrase))))
          .flatMap((k) => (k === undefined ? [] : [k]))
        : undefined
      attempts.push({
        label: "agent",
        auth: { type: "agent", username, agent: new CertificateAgent({ socketPath: agentSocket, only, certificates }) }
      })
    }
    attempts.push(...fileAttempts)
    // Last: prompts. The password answers a password prompt; any other is asked of a person.
    attempts.push({
      label: "keyboard-interactive",
      auth: { type: "keyboard-interactive", username, prompt: safePrompt(keyboardPrompt(password, hooks)) },
      needsMethods: password === undefined
    })
    return attempts
  })

/**
 * `prompt`, but a throw (ssh2 calls it from its parser, where it would end the process)
 * answers nothing instead: the server refuses that attempt.
 */
const safePrompt = (prompt: ReturnType<typeof keyboardPrompt>): ReturnType<typeof keyboardPrompt> =>
(name, instructions, lang, prompts, finish) => {
  try {
    prompt(name, instructions, lang, prompts, finish)
  } catch {
    finish([])
  }
}

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

/** The server's name for a method (an agent's keys are publickey to it). */
const serverMethod = (type: string) => (type === "agent" ? "publickey" : type)

/**
 * Offers `attempts` in order, skipping methods the server no longer accepts; false when none
 * is left. After a partial success (`AuthenticationMethods publickey,keyboard-interactive`)
 * the server names what it still wants: the attempts not yet made for those go on.
 */
export const authHandler = (attempts: ReadonlyArray<AuthAttempt>, progress: AuthProgress): AuthHandler => {
  const left = [...attempts]
  return (methodsLeft, _partial, next) => {
    // An attempt that only makes sense once the methods are known: ask for them with `none`.
    if (methodsLeft === null && left[0]?.needsMethods === true) return next({ type: "none", username: left[0].auth.username })
    for (let attempt = left.shift(); attempt !== undefined; attempt = left.shift()) {
      if (methodsLeft !== null && !methodsLeft.includes(serverMethod(attempt.auth.type) as AuthenticationType)) continue
      progress.tried.push(attempt.label)
      progress.lastMethod = attempt.auth.type
      return next(attempt.auth)
    }
    return next(false)
  }
}
