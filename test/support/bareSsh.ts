/**
 * A bare ssh2 client on the harness's sshd, for integration tests of the pieces below the
 * server (channels, lanes) without its services.
 */
import * as fs from "node:fs"
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
