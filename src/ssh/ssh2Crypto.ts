/**
 * ssh2 1.17's cipher module (`lib/protocol/crypto.js`), for the modules that patch or read
 * its native binding's classes (`sendBuffers.ts`, `receiveBuffers.ts`): the class ssh2
 * makes for a cipher name, found by making one with a key of zeros.
 *
 * @since 0.4.0
 */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

interface CipherInfo {
  readonly sslName: string
  readonly keyLen: number
  readonly ivLen: number
}

const crypto = require("ssh2/lib/protocol/crypto.js") as {
  readonly bindingAvailable: boolean
  readonly CIPHER_INFO: Record<string, CipherInfo>
  createCipher(config: unknown): { free(): void }
  createDecipher(config: unknown): { free(): void }
}

/**
 * The prototype of the cipher (outbound) or decipher (inbound) ssh2 makes for `name`: its
 * native binding's class. Undefined without the binding or for a name ssh2 does not know.
 */
export const bindingPrototype = (direction: "outbound" | "inbound", name: string): object | undefined => {
  const info = crypto.CIPHER_INFO[name]
  if (!crypto.bindingAvailable || info === undefined) return undefined
  const [key, iv] = [Buffer.alloc(info.keyLen), Buffer.alloc(info.ivLen)]
  const made = direction === "outbound"
    ? crypto.createCipher({ outbound: { onWrite: () => {}, cipherInfo: info, cipherKey: key, cipherIV: iv, seqno: 0 } })
    : crypto.createDecipher({ inbound: { onPayload: () => {}, decipherInfo: info, decipherKey: key, decipherIV: iv, seqno: 0 } })
  made.free()
  return Object.getPrototypeOf(made) as object
}
