/**
 * A bare ssh2 client on the harness's sshd, for integration tests of the pieces below the
 * server (channels, lanes) without its services.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import ssh2, { type ClientChannel } from "ssh2"
import { openExecChannel } from "../../src/ssh/execChannel.js"
import type { Sshd } from "./sshdServer.js"

/** A connected client as the test user, with the harness's key. */
export const connectBare = (sshd: Sshd) =>
  new Promise<ssh2.Client>((resolve, reject) => {
    const c = new ssh2.Client()
    c.on("error", reject)
    c.on("ready", () => resolve(c))
    c.connect({ host: sshd.host, port: sshd.port, username: sshd.user.name, privateKey: fs.readFileSync(sshd.clientKeyPath) })
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
