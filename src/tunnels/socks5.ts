/**
 * The SOCKS5 handshake of a dynamic tunnel (RFC 1928), as pure functions over the bytes
 * received so far: no authentication, CONNECT only, with IPv4, IPv6 and domain-name
 * addresses. A domain name is kept as given, so the far side of the tunnel resolves it
 * (what `curl --socks5-hostname` expects).
 *
 * @since 0.1.0
 */

export const SOCKS_VERSION = 5
export const METHOD_NO_AUTH = 0x00
export const METHOD_NONE_ACCEPTABLE = 0xff

/** RFC 1928 §6 reply codes. */
export const Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08
} as const
export type Reply = typeof Reply[keyof typeof Reply]

/** The most a greeting or a request can take (a 255-byte domain name): more buffered is a bad client. */
export const MAX_HANDSHAKE_BYTES = 4 + 1 + 255 + 2

/** What the bytes so far make: not enough yet, a bad message, or a message and how many bytes it took. */
export type Parsed<A> =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Invalid"; readonly reason: string; readonly reply?: Reply }
  | { readonly _tag: "Done"; readonly value: A; readonly consumed: number }

const incomplete = { _tag: "Incomplete" } as const
const invalid = (reason: string, reply?: Reply): Parsed<never> =>
  reply === undefined ? { _tag: "Invalid", reason } : { _tag: "Invalid", reason, reply }

/** The client's greeting: `VER NMETHODS METHODS…`; Done with whether it offers "no authentication". */
export const parseGreeting = (buf: Uint8Array): Parsed<{ readonly noAuth: boolean }> => {
  if (buf.length < 2) return incomplete
  if (buf[0] !== SOCKS_VERSION) return invalid(`not SOCKS5 (version byte ${buf[0]})`)
  const n = buf[1]!
  if (n === 0) return invalid("no authentication method offered")
  if (buf.length < 2 + n) return incomplete
  return { _tag: "Done", value: { noAuth: buf.subarray(2, 2 + n).includes(METHOD_NO_AUTH) }, consumed: 2 + n }
}

/** Where the client wants to go. `host` is a dotted IPv4, a full IPv6 or a domain name as sent. */
export interface ConnectRequest {
  readonly host: string
  readonly port: number
  readonly addressType: "ipv4" | "ipv6" | "domain"
}

const ipv6 = (b: Uint8Array): string => {
  const groups: Array<string> = []
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16))
  return groups.join(":")
}

/** The request `VER CMD RSV ATYP DST.ADDR DST.PORT`; only CONNECT is accepted. */
export const parseRequest = (buf: Uint8Array): Parsed<ConnectRequest> => {
  if (buf.length < 5) return incomplete
  if (buf[0] !== SOCKS_VERSION) return invalid(`not SOCKS5 (version byte ${buf[0]})`, Reply.GENERAL_FAILURE)
  const atyp = buf[3]
  let start: number
  let length: number
  switch (atyp) {
    case 0x01:
      start = 4
      length = 4
      break
    case 0x04:
      start = 4
      length = 16
      break
    case 0x03:
      start = 5
      length = buf[4]!
      if (length === 0) return invalid("empty domain name", Reply.GENERAL_FAILURE)
      break
    default:
      return invalid(`address type ${atyp} not supported`, Reply.ADDRESS_TYPE_NOT_SUPPORTED)
  }
  // A command other than CONNECT is refused only once its address is known to be well-formed.
  const end = start + length + 2
  if (buf.length < end) return incomplete
  if (buf[1] !== 0x01) return invalid(`command ${buf[1]} not supported (CONNECT only)`, Reply.COMMAND_NOT_SUPPORTED)
  const addr = buf.subarray(start, start + length)
  const port = (buf[start + length]! << 8) | buf[start + length + 1]!
  const host = atyp === 0x01 ? [...addr].join(".") : atyp === 0x04 ? ipv6(addr) : new TextDecoder().decode(addr)
  if (atyp === 0x03 && (host.includes("\u0000") || host.includes("\ufffd"))) {
    return invalid("domain name is not text", Reply.GENERAL_FAILURE)
  }
  if (port === 0) return invalid("port 0", Reply.GENERAL_FAILURE)
  return {
    _tag: "Done",
    value: { host, port, addressType: atyp === 0x01 ? "ipv4" : atyp === 0x04 ? "ipv6" : "domain" },
    consumed: end
  }
}

/** The server's choice of method. */
export const methodReply = (method: number): Uint8Array => Uint8Array.of(SOCKS_VERSION, method)

/** A reply to the request; the bound address is reported as 0.0.0.0:0 (the far side's is not ours to tell). */
export const requestReply = (code: Reply): Uint8Array => Uint8Array.of(SOCKS_VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0)

/**
 * The reply for a target sshd would not connect to: its RFC 4254 reason (1: prohibited)
 * and the text OpenSSH sends (strerror or getaddrinfo's message).
 */
export const replyForRefusal = (reason: number | undefined, message: string): Reply => {
  if (reason === 1) return Reply.NOT_ALLOWED
  if (/refused/i.test(message)) return Reply.CONNECTION_REFUSED
  if (/network is unreachable/i.test(message)) return Reply.NETWORK_UNREACHABLE
  if (/no route|unreachable|timed out|name or service|not known|resolve|getaddrinfo/i.test(message)) return Reply.HOST_UNREACHABLE
  return Reply.GENERAL_FAILURE
}
