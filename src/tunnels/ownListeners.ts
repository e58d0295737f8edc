/**
 * The sockets this process listens on for its own purposes (the MCP HTTP endpoint, the
 * live view): a remote tunnel (`ssh -R`) must not lead to them, or whoever can connect to
 * the forwarded port on the host would reach an endpoint meant for this machine only.
 * Process-wide, as the sockets are.
 *
 * @since 0.4.0
 */
import * as os from "node:os"
import { isLoopback } from "../loopback.js"

interface Listener {
  readonly address: string
  readonly port: number
}

const listeners = new Set<Listener>()

/** Record a listener; the returned function forgets it. */
export const addOwnListener = (address: string, port: number): (() => void) => {
  const l = { address, port }
  listeners.add(l)
  return () => void listeners.delete(l)
}

const unspecified = (a: string) => a === "0.0.0.0" || a === "::" || a === "[::]" || a === ""

/** Whether `address` is one of this machine's (loopback, any interface's, or unspecified). */
const isLocal = (address: string): boolean => {
  const a = address.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/^::ffff:/, "")
  if (isLoopback(a) || unspecified(a)) return true
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address.toLowerCase() === a))
}

/**
 * Whether a connection to `host`:`port` (a name or an address; names other than
 * `localhost` are judged after connecting, by the peer address) would reach one of our listeners.
 */
export const isOwnListener = (host: string, port: number): boolean => {
  for (const l of listeners) {
    if (l.port !== port) continue
    if (!isLocal(host)) continue
    const bind = l.address.toLowerCase().replace(/^\[(.*)\]$/, "$1")
    // A listener on every address, or the same family's loopback, or the very address.
    if (unspecified(bind) || (isLoopback(bind) && isLoopback(host)) || bind === host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/^::ffff:/, "")) return true
  }
  return false
}
