/**
 * The SSH transport algorithms we offer: ssh2's defaults without the weak ones (SHA-1
 * signatures, SHA-1 MACs and key exchange, CBC and other legacy ciphers), or the
 * operator's lists (`[server.algorithms]`). The host-key list is ordered per host to
 * prefer the key types already known for it, as OpenSSH does.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import type { AlgorithmLists } from "../domain/config.js"
import type { Algorithms, CipherAlgorithm, KexAlgorithm, MacAlgorithm, ServerHostKeyAlgorithm } from "ssh2"

export type { AlgorithmLists }

interface Ssh2Constants {
  readonly DEFAULT_KEX: ReadonlyArray<KexAlgorithm>
  readonly SUPPORTED_KEX: ReadonlyArray<KexAlgorithm>
  readonly DEFAULT_SERVER_HOST_KEY: ReadonlyArray<ServerHostKeyAlgorithm>
  readonly SUPPORTED_SERVER_HOST_KEY: ReadonlyArray<ServerHostKeyAlgorithm>
  readonly DEFAULT_CIPHER: ReadonlyArray<CipherAlgorithm>
  readonly SUPPORTED_CIPHER: ReadonlyArray<CipherAlgorithm>
  readonly DEFAULT_MAC: ReadonlyArray<MacAlgorithm>
  readonly SUPPORTED_MAC: ReadonlyArray<MacAlgorithm>
}

// ssh2 computes its lists at load time from what this Node's crypto supports (curve25519,
// chacha20); it publishes them only in this internal module, which @types/ssh2 does not cover.
const ssh2Constants = createRequire(import.meta.url)("ssh2/lib/protocol/constants.js") as Ssh2Constants

/** Algorithms never offered unless the operator lists them. */
const WEAK = /^(ssh-rsa|ssh-dss)$|sha1|md5|ripemd|-cbc$|arcfour|^none$|-96$/

/** What ssh2 can speak, per list: an operator's list is checked against it. */
export const supportedAlgorithms: AlgorithmLists = {
  kex: ssh2Constants.SUPPORTED_KEX,
  cipher: ssh2Constants.SUPPORTED_CIPHER,
  hmac: ssh2Constants.SUPPORTED_MAC,
  serverHostKey: ssh2Constants.SUPPORTED_SERVER_HOST_KEY
}

/** ssh2's defaults minus the weak algorithms. */
export const defaultAlgorithms: AlgorithmLists = {
  kex: ssh2Constants.DEFAULT_KEX.filter((a) => !WEAK.test(a)),
  cipher: ssh2Constants.DEFAULT_CIPHER.filter((a) => !WEAK.test(a)),
  hmac: ssh2Constants.DEFAULT_MAC.filter((a) => !WEAK.test(a)),
  serverHostKey: ssh2Constants.DEFAULT_SERVER_HOST_KEY.filter((a) => !WEAK.test(a))
}

/** The key type (as in known_hosts) whose keys sign with host-key algorithm `algorithm`. */
const keyTypeOfAlgorithm = (algorithm: string): string =>
  algorithm === "rsa-sha2-256" || algorithm === "rsa-sha2-512" ? "ssh-rsa" : algorithm

/**
 * `offered` with the algorithms of the `known` key types first (each group in its own
 * order), so a server that has a known key is asked for it rather than for another.
 */
export const preferKnownHostKeyTypes = (offered: ReadonlyArray<string>, known: ReadonlyArray<string>): Array<string> => {
  const isKnown = (a: string) => known.includes(keyTypeOfAlgorithm(a))
  return [...offered.filter(isKnown), ...offered.filter((a) => !isKnown(a))]
}

const among = <T extends string>(list: ReadonlyArray<T>) => (name: string): name is T => (list as ReadonlyArray<string>).includes(name)

/** The `algorithms` option of an ssh2 connection: `lists` (names ssh2 does not know are dropped; config checks them first), host keys ordered for `knownKeyTypes`. */
export const ssh2Algorithms = (lists: AlgorithmLists, knownKeyTypes: ReadonlyArray<string>): Algorithms => ({
  kex: lists.kex.filter(among(ssh2Constants.SUPPORTED_KEX)),
  cipher: lists.cipher.filter(among(ssh2Constants.SUPPORTED_CIPHER)),
  hmac: lists.hmac.filter(among(ssh2Constants.SUPPORTED_MAC)),
  serverHostKey: preferKnownHostKeyTypes(lists.serverHostKey, knownKeyTypes).filter(among(ssh2Constants.SUPPORTED_SERVER_HOST_KEY))
})
