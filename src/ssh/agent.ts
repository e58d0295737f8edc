/**
 * An ssh-agent client for ssh2 that also offers certificates: those the agent holds
 * (ssh2's own client drops them: it cannot parse them) and those of `CertificateFile` /
 * `<key>-cert.pub` whose key is in the agent. `IdentitiesOnly` keeps only the listed keys.
 * One short connection to the agent's socket per request, as `ssh` does per session.
 *
 * @since 0.2.0
 */
import * as net from "node:net"
import ssh2, { type ParsedKey, type SigningRequestOptions } from "ssh2"
import { type Certificate, certificateKey, certificateOf, parseCertificateBlob } from "./certificates.js"

const REQUEST_IDENTITIES = 11
const IDENTITIES_ANSWER = 12
const SIGN_REQUEST = 13
const SIGN_RESPONSE = 14
const RSA_SHA2_256 = 2
const RSA_SHA2_512 = 4
/** Agent messages are small; a bigger answer is not an agent talking. */
const MAX_MESSAGE = 256 * 1024

export interface AgentOptions {
  /** The agent's socket (SSH_AUTH_SOCK, or IdentityAgent). */
  readonly socketPath: string
  /** IdentitiesOnly: offer only these public keys (wire format) and certificates of them. */
  readonly only?: ReadonlyArray<Buffer> | undefined
  /** Certificates from files, offered with the agent's key they certify. */
  readonly certificates?: ReadonlyArray<Certificate> | undefined
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const str = (b: Buffer) => Buffer.concat([u32(b.length), b])

/** Read one wire string at `at`: [value, next offset], or undefined when the buffer is short. */
const readString = (buf: Buffer, at: number): [Buffer, number] | undefined => {
  if (at + 4 > buf.length) return undefined
  const len = buf.readUInt32BE(at)
  return at + 4 + len > buf.length ? undefined : [buf.subarray(at + 4, at + 4 + len), at + 4 + len]
}

/** One request to the agent and its answer (type byte and body). */
const ask = (socketPath: string, type: number, body: Buffer): Promise<{ type: number; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const sock = net.connect(socketPath)
    let got = Buffer.alloc(0)
    const done = (err: Error | undefined, answer?: { type: number; body: Buffer }) => {
      sock.destroy()
      if (err !== undefined) reject(err)
      else resolve(answer!)
    }
    sock.on("error", (e) => done(new Error(`ssh-agent at ${socketPath}: ${e.message}`)))
    sock.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk])
      if (got.length < 4) return
      const len = got.readUInt32BE(0)
      if (len < 1 || len > MAX_MESSAGE) return done(new Error("ssh-agent sent a malformed answer"))
      if (got.length >= 4 + len) done(undefined, { type: got[4]!, body: got.subarray(5, 4 + len) })
    })
    sock.on("end", () => done(new Error("ssh-agent closed the connection without answering")))
    sock.write(Buffer.concat([u32(body.length + 1), Buffer.from([type]), body]))
  })

/** A key ssh2 can parse from its wire format, or undefined. */
const parseBlob = (blob: Buffer): ParsedKey | undefined => {
  const parsed = ssh2.utils.parseKey(blob)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  return key === undefined || key instanceof Error ? undefined : key
}

export class CertificateAgent extends ssh2.BaseAgent<ParsedKey> {
  /** The blob the agent signs with for each key offered (the certificate's, or its plain key's). */
  private readonly signWith = new WeakMap<object, Buffer>()
  private readonly options: AgentOptions

  constructor(options: AgentOptions) {
    super()
    this.options = options
  }

  /** The agent's identities: certificates first (as they come, then from files), each usable key once. */
  getIdentities(cb: (err: Error | undefined, keys?: Array<ParsedKey>) => void): void {
    ask(this.options.socketPath, REQUEST_IDENTITIES, Buffer.alloc(0)).then(({ type, body }) => {
      if (type !== IDENTITIES_ANSWER || body.length < 4) return cb(new Error("ssh-agent refused to list its keys"))
      const count = body.readUInt32BE(0)
      let at = 4
      const keys: Array<ParsedKey> = []
      const allowed = (publicKey: Buffer) => this.options.only === undefined || this.options.only.some((k) => k.equals(publicKey))
      const offer = (key: ParsedKey | undefined, blob: Buffer) => {
        if (key === undefined) return
        this.signWith.set(key, blob)
        keys.push(key)
      }
      for (let i = 0; i < count; i++) {
        const blob = readString(body, at)
        const comment = blob === undefined ? undefined : readString(body, blob[1])
        if (blob === undefined || comment === undefined) return cb(new Error("ssh-agent sent a malformed key list"))
        at = comment[1]
        const cert = parseCertificateBlob(blob[0])
        if (cert !== undefined) {
          const base = parseBlob(cert.publicKey)
          if (base !== undefined && allowed(cert.publicKey)) offer(certificateKey(base, cert), blob[0])
          continue
        }
        const key = parseBlob(blob[0])
        if (key === undefined || !allowed(blob[0])) continue
        for (const fileCert of this.options.certificates ?? []) {
          if (fileCert.publicKey.equals(blob[0])) offer(certificateKey(key, fileCert), blob[0])
        }
        offer(key, blob[0])
      }
      cb(undefined, keys)
    }, (e: Error) => cb(e))
  }

  sign(pubKey: ParsedKey, data: Buffer, options: SigningRequestOptions | ((err: Error | undefined, signature?: Buffer) => void), cb?: (err: Error | undefined, signature?: Buffer) => void): void {
    const done = typeof options === "function" ? options : cb ?? (() => {})
    const hash = typeof options === "function" ? certificateOf(pubKey)?.hash : options.hash ?? certificateOf(pubKey)?.hash
    const blob = this.signWith.get(pubKey) ?? Buffer.from(pubKey.getPublicSSH())
    const rsa = /^(ssh-rsa|rsa-sha2-)/.test(pubKey.type)
    const flags = rsa && hash === "sha512" ? RSA_SHA2_512 : rsa && hash === "sha256" ? RSA_SHA2_256 : 0
    ask(this.options.socketPath, SIGN_REQUEST, Buffer.concat([str(blob), str(data), u32(flags)])).then(({ type, body }) => {
      const sig = type === SIGN_RESPONSE ? readString(body, 0) : undefined
      // The signature blob is (algorithm, signature): ssh2 writes the algorithm itself.
      const raw = sig === undefined ? undefined : readString(sig[0], 0)
      const inner = raw === undefined ? undefined : readString(sig![0], raw[1])
      if (inner === undefined) return done(new Error("ssh-agent refused to sign"))
      done(undefined, inner[0])
    }, (e: Error) => done(e))
  }
}
