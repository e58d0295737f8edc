/**
 * What counts as this machine for the HTTP transport: `localhost`, all of
 * 127.0.0.0/8 (also IPv4-mapped) and ::1. Used for the bind address and for the
 * Host and Origin checks (DNS rebinding).
 *
 * @since 0.1.0
 */
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Whether `host` (a name or an address, IPv6 with or without brackets) is a loopback one. */
export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true
  const m = IPV4.exec(h.startsWith("::ffff:") ? h.slice(7) : h)
  return m !== null && m[1] === "127" && m.slice(2).every((o) => Number(o) <= 255)
}

/** A Host header's hostname (IPv6 in brackets), or undefined when it is not `name[:port]` with a port ≤ 65535. */
export const hostnameOfHostHeader = (value: string): string | undefined => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value)
  if (m === null || (m[2] !== undefined && Number(m[2]) > 65535)) return undefined
  return m[1]!
}
