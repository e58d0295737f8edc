/**
 * The certificate wrapper around ssh2's `Protocol.authPK` (src/ssh/certificates.ts) relies
 * on ssh2 1.17's internals. These tests fail when ssh2 changes underneath: its version, the
 * internals used, and the signed request itself, checked byte by byte by ssh2's own Server
 * on loopback (test/e2e/certificates.test.ts checks it against OpenSSH's sshd).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import ssh2, { type ParsedKey } from "ssh2"
import { describe, expect, it } from "vitest"
import { certificateKey, parseCertificateText } from "../../../src/ssh/certificates.js"

const require = createRequire(import.meta.url)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "certs-unit-"))
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "ca")])

const certified = (name: string, type: string) => {
  const key = path.join(dir, name)
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-f", key])
  execFileSync("ssh-keygen", ["-q", "-s", path.join(dir, "ca"), "-I", name, "-n", "someone", `${key}.pub`])
  return {
    key: ssh2.utils.parseKey(fs.readFileSync(key)) as ParsedKey,
    cert: parseCertificateText(fs.readFileSync(`${key}-cert.pub`, "utf8"))!
  }
}

describe("user certificates over ssh2", () => {
  it("ssh2 is the version the wrapper was written for (1.17.0): on a new one, re-check src/ssh/certificates.ts and whether ssh2 has certificates itself", () => {
    expect((require("ssh2/package.json") as { version: string }).version).toBe("1.17.0")
    const Protocol = require("ssh2/lib/protocol/Protocol.js") as { prototype: Record<string, unknown> }
    const utils = require("ssh2/lib/protocol/utils.js") as Record<string, unknown>
    expect(typeof Protocol.prototype.authPK).toBe("function")
    expect(typeof utils.sendPacket).toBe("function")
    expect(typeof utils.convertSignature).toBe("function")
  })

  it("pairs a certificate with its key only", () => {
    const a = certified("a", "ed25519")
    const b = certified("b", "ed25519")
    expect(certificateKey(a.key, a.cert)).toBeDefined()
    expect(certificateKey(a.key, b.cert)).toBeUndefined()
    expect(parseCertificateText("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== plain key")).toBeUndefined()
  })

  for (const [type, plain] of [["ed25519", "ssh-ed25519"], ["ecdsa", "ecdsa-sha2-nistp256"], ["rsa", "rsa-sha2-512"]] as const) {
    it(`${type}: sends the certificate as the key and a signature named ${plain}, made by the key`, async () => {
      const { key, cert } = certified(`s-${type}`, type)
      const hostKey = path.join(dir, `host-${type}`)
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
      const seen: Array<{ algo: string; blob: Buffer; sigName: string; verified: boolean }> = []
      const server = new ssh2.Server({ hostKeys: [fs.readFileSync(hostKey)] }, (client) => {
        client.on("error", () => {})
        client.on("authentication", (ctx) => {
          if (ctx.method !== "publickey") return ctx.reject(["publickey"])
          if (ctx.signature === undefined) return ctx.accept()
          // ssh2's server keeps the signature blob whole when it is not named like the request.
          const sig = ctx.signature
          const nameLen = sig.readUInt32BE(0)
          const sigName = sig.subarray(4, 4 + nameLen).toString()
          const raw = sig.subarray(8 + nameLen, 8 + nameLen + sig.readUInt32BE(4 + nameLen))
          const hash = type === "rsa" ? "sha512" : type === "ecdsa" ? "sha256" : undefined
          const der = type === "ecdsa" ? sshEcdsaToDer(raw) : raw
          seen.push({ algo: ctx.key.algo, blob: ctx.key.data, sigName, verified: key.verify(ctx.blob!, der, hash) === true })
          ctx.accept()
        })
        client.on("ready", () => client.end())
      })
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
      try {
        await new Promise<void>((resolve, reject) => {
          const c = new ssh2.Client()
          c.on("ready", () => {
            c.end()
            resolve()
          })
          c.on("error", reject)
          c.connect({
            host: "127.0.0.1",
            port: (server.address() as { port: number }).port,
            username: "someone",
            hostVerifier: () => true,
            authHandler: [{ type: "publickey", username: "someone", key: certificateKey(key, cert)! } as never]
          })
        })
      } finally {
        server.close()
      }
      expect(seen).toEqual([{
        algo: type === "rsa" ? "rsa-sha2-512-cert-v01@openssh.com" : cert.type,
        blob: cert.blob,
        sigName: plain,
        verified: true
      }])
    })
  }
})

/** An SSH ECDSA signature (mpint r, mpint s) as the DER that node verifies. */
const sshEcdsaToDer = (sig: Buffer): Buffer => {
  const rLen = sig.readUInt32BE(0)
  const r = sig.subarray(4, 4 + rLen)
  const s = sig.subarray(8 + rLen, 8 + rLen + sig.readUInt32BE(4 + rLen))
  const int = (b: Buffer) => Buffer.concat([Buffer.from([0x02, b.length]), b])
  const body = Buffer.concat([int(r), int(s)])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
