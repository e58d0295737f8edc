/**
 * A bare ssh2 client on the harness's sshd, for integration tests of the pieces below the
 * server (channels, lanes) without its services.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import ssh2, { type ClientChannel } from "ssh2"
import { openExecChannel } from "../../src/ssh/execChannel.js"
import type { Sshd } from "./sshdServer.js"

/** The AEAD ciphers of ssh2's native binding (the ones it offers first). */
export const AEAD_CIPHERS = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"] as const

export interface BareOptions {
  /** The one cipher to offer. */
  readonly cipher?: string
  /** A socket to the harness's sshd to use instead of ssh2's own. */
  readonly sock?: Duplex
  /** Called right after `connect` (which makes the client's socket). */
  readonly connected?: (client: ssh2.Client) => void
}

/** A connected client as the test user, with the harness's key. */
export const connectBare = (sshd: Sshd, o: BareOptions = {}) =>
  new Promise<ssh2.Client>((resolve, reject) => {
    const c = new ssh2.Client()
    c.on("error", reject)
    c.on("ready", () => resolve(c))
    c.connect({
      ...(o.sock === undefined ? { host: sshd.host, port: sshd.port } : { sock: o.sock }),
      username: sshd.user.name,
      privateKey: fs.readFileSync(sshd.clientKeyPath),
      ...(o.cipher === undefined ? {} : { algorithms: { cipher: [o.cipher] as Array<ssh2.CipherAlgorithm> } })
    })
    o.connected?.(c)
  })

/** An exec channel opened through `openExecChannel` (as the server opens its own). */
export const execBare = (client: ssh2.Client, command: string, options: Parameters<typeof openExecChannel>[2] = {}) =>
  new Promise<ClientChannel>((resolve, reject) =>
    openExecChannel(client, command, options, (err, ch) => (err !== undefined || ch === undefined ? reject(err ?? new Error("no channel")) : resolve(ch))))

/** A suite's bare client, and a scratch directory here and on the host (the test user's). */
export interface BareScratch {
  readonly sshd: Sshd
  readonly client: ssh2.Client
  readonly local: string
  readonly remote: string
}

export const openScratch = async (sshd: Sshd, name: string): Promise<BareScratch> => {
  const client = await connectBare(sshd)
  const local = fs.mkdtempSync(path.join(os.tmpdir(), `mcpssh-${name}-`))
  const remote = `/tmp/mcpssh-${name}-${randomBytes(4).toString("hex")}`
  await sshd.exec(`mkdir -p ${remote} && chown ${sshd.user.name} ${remote}`)
  return { sshd, client, local, remote }
}

export const closeScratch = async (s: BareScratch | undefined): Promise<void> => {
  if (s === undefined) return
  s.client.end()
  await s.sshd.exec(`rm -rf ${s.remote}`)
  fs.rmSync(s.local, { recursive: true, force: true })
}
