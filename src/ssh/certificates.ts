/**
 * OpenSSH user certificates (`*-cert.pub`, `CertificateFile`, certificates held by an
 * agent) for ssh2, which has no support for them (mscdex/ssh2#551, #808, open).
 *
 * A certificate authenticates as a public key whose blob is the certificate and whose
 * algorithm is the certificate's (`ssh-ed25519-cert-v01@openssh.com`); the signature is
 * made by the underlying key and named by the plain algorithm (`ssh-ed25519`,
 * `rsa-sha2-512`). ssh2 names the signature with the request's algorithm, so the signed
 * request is written here: `installCertificateAuth` wraps ssh2's `Protocol.authPK` once and
 * takes over only for the keys `certificateKey` made; every other key goes to ssh2 as before.
 * It relies on ssh2 1.17 internals (the packet writer, `sendPacket`, the auth queue);
 * test/unit/ssh/certificates.test.ts fails when they change underneath.
 *
 * @since 0.2.0
 */
import { createRequire } from "node:module"
import ssh2, { type ParsedKey } from "ssh2"

const require = createRequire(import.meta.url)

/** What ssh2's Protocol instance offers that the signed request needs (ssh2 1.17). */
interface ProtocolInternals {
  readonly _kex: { readonly sessionID: Buffer }
  readonly _packetRW: { readonly write: { readonly allocStart: number; alloc(n: number): Buffer; finalize(packet: Buffer): Buffer } }
  readonly _authsQueue: Array<string>
}
type AuthPK = (this: ProtocolInternals, username: string, pubKey: unknown, keyAlgo?: unknown, cbSign?: unknown) => void

const Protocol = require("ssh2/lib/protocol/Protocol.js") as { prototype: { authPK: AuthPK } }
const { sendPacket, convertSignature } = require("ssh2/lib/protocol/utils.js") as {
  sendPacket(proto: ProtocolInternals, packet: Buffer): void
  convertSignature(signature: Buffer, keyType: string): Buffer | false
}

const CERT = Symbol("mcp-ssh-live/certificate")

/** A certificate, read from its `*-cert.pub` line or an agent's identity blob. */
export interface Certificate {
  /** `ssh-ed25519-cert-v01@openssh.com` as the certificate names itself. */
  readonly type: string
  /** The plain key type: `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  readonly keyType: string
  /** The whole certificate: the public key blob sent to the server. */
  readonly blob: Buffer
  /** The certified public key, in wire format (what the matching private key's public half is). */
  readonly publicKey: Buffer
}

interface CertInfo {
  readonly blob: Buffer
  /** The algorithm of the request: RSA certificates use rsa-sha2-512 (ssh-rsa signatures are off in OpenSSH ≥ 8.8). */
  readonly algorithm: string
  /** The algorithm naming the signature. */
  readonly signatureAlgorithm: string
  readonly keyType: string
  /** The hash to sign with, where the key type has a choice (RSA). */
  readonly hash: string | undefined
}

const readString = (buf: Buffer, at: number): [Buffer, number] | undefined => {
  if (at + 4 > buf.length) return undefined
  const len = buf.readUInt32BE(at)
  if (at + 4 + len > buf.length) return undefined
  return [buf.subarray(at + 4, at + 4 + len), at + 4 + len]
}

const sshString = (b: Buffer | string): Buffer => {
  const body = typeof b === "string" ? Buffer.from(b) : b
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

/** How many wire strings follow the nonce for each key type (RFC-less PROTOCOL.certkeys). */
const KEY_FIELDS: Record<string, number> = {
  "ssh-ed25519": 1,
  "ssh-rsa": 2,
  "ecdsa-sha2-nistp256": 2,
  "ecdsa-sha2-nistp384": 2,
  "ecdsa-sha2-nistp521": 2
}

/** Parse a certificate blob (wire format); undefined when it is not one we can use. */
export const parseCertificateBlob = (blob: Buffer): Certificate | undefined => {
  const t = readString(blob, 0)
  if (t === undefined) return undefined
  const type = t[0].toString("latin1")
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))-cert-v01@openssh\.com$/.exec(type)
  if (m === null) return undefined
  const keyType = m[1]!
  const nonce = readString(blob, t[1])
  if (nonce === undefined) return undefined
  let at = nonce[1]
  const fields: Array<Buffer> = []
  for (let i = 0; i < KEY_FIELDS[keyType]!; i++) {
    const f = readString(blob, at)
    if (f === undefined) return undefined
    fields.push(f[0])
    at = f[1]
  }
  return { type, keyType, blob, publicKey: Buffer.concat([sshString(keyType), ...fields.map(sshString)]) }
}

/** Parse a `*-cert.pub` file's text (`<type> <base64> [comment]`). */
export const parseCertificateText = (text: string): Certificate | undefined => {
  const [, b64] = text.trim().split(/\s+/)
  return b64 === undefined ? undefined : parseCertificateBlob(Buffer.from(b64, "base64"))
}

const certInfo = (cert: Certificate): CertInfo =>
  cert.keyType === "ssh-rsa"
    ? { blob: cert.blob, algorithm: "rsa-sha2-512-cert-v01@openssh.com", signatureAlgorithm: "rsa-sha2-512", keyType: cert.keyType, hash: "sha512" }
    : { blob: cert.blob, algorithm: cert.type, signatureAlgorithm: cert.keyType, keyType: cert.keyType, hash: undefined }

/**
 * A key ssh2 takes wherever it takes a parsed key (a `publickey` attempt, an agent's
 * identity) that authenticates with `cert`: `key` signs (a private key), or only names the
 * certified key (a public one, for an agent that holds the private half). Undefined when
 * `key` is not the certificate's key.
 */
export const certificateKey = (key: ParsedKey, cert: Certificate): ParsedKey | undefined => {
  if (!Buffer.from(key.getPublicSSH()).equals(cert.publicKey)) return undefined
  installCertificateAuth()
  const info = certInfo(cert)
  // The parsed key stays the prototype: ssh2 recognises it as parsed (a private symbol
  // field) and signs with it; only what the server is shown changes.
  return Object.create(key, {
    type: { value: info.algorithm },
    getPublicSSH: { value: () => info.blob },
    sign: { value: (data: Buffer, hash?: string) => key.sign(data, hash ?? info.hash) },
    [CERT]: { value: info }
  }) as ParsedKey
}

/** The certificate a key made by `certificateKey` stands for, else undefined. */
export const certificateOf = (key: unknown): { readonly blob: Buffer; readonly hash: string | undefined } | undefined =>
  typeof key === "object" && key !== null && CERT in key ? (key as { [CERT]: CertInfo })[CERT] : undefined

let installed = false

/** Wrap ssh2's `authPK` (once) so that certificate keys are sent as OpenSSH sends them. */
export const installCertificateAuth = (): void => {
  if (installed) return
  installed = true
  const original = Protocol.prototype.authPK
  Protocol.prototype.authPK = function(this: ProtocolInternals, username, pubKey, keyAlgo, cbSign) {
    const info = typeof pubKey === "object" && pubKey !== null && CERT in pubKey ? (pubKey as { [CERT]: CertInfo })[CERT] : undefined
    const sign = typeof keyAlgo === "function" ? keyAlgo : cbSign
    // The query without a signature has the right shape already (type and blob are the certificate's).
    if (info === undefined || typeof sign !== "function") return original.call(this, username, pubKey, keyAlgo, cbSign)
    const request = Buffer.concat([
      Buffer.from([50]), // SSH_MSG_USERAUTH_REQUEST
      sshString(username),
      sshString("ssh-connection"),
      sshString("publickey"),
      Buffer.from([1]),
      sshString(info.algorithm),
      sshString(info.blob)
    ])
    const toSign = Buffer.concat([sshString(this._kex.sessionID), request])
    ;(sign as (data: Buffer, cb: (signature: Buffer) => void) => void)(toSign, (signature) => {
      const converted = convertSignature(signature, info.keyType)
      if (converted === false) throw new Error("Error while converting handshake signature")
      const payload = Buffer.concat([request, sshString(Buffer.concat([sshString(info.signatureAlgorithm), sshString(converted)]))])
      const writer = this._packetRW.write
      const at = writer.allocStart
      const packet = writer.alloc(payload.length)
      payload.copy(packet, at)
      this._authsQueue.push("publickey")
      sendPacket(this, writer.finalize(packet))
    })
  }
}

/** The public half of a private key (wire format), or undefined when `text` is not a usable key. */
export const publicBlobOf = (text: Buffer, passphrase?: string): Buffer | undefined => {
  const parsed = ssh2.utils.parseKey(text, passphrase)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  return key === undefined || key instanceof Error ? undefined : Buffer.from(key.getPublicSSH())
}
