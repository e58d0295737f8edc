import { describe, expect, it } from "vitest"
import {
  MAX_HANDSHAKE_BYTES,
  parseGreeting,
  parseRequest,
  Reply,
  replyForRefusal,
  requestReply
} from "../../../src/tunnels/socks5.js"

const bytes = (...b: Array<number>) => Uint8Array.from(b)
const domainRequest = (name: string, port: number, cmd = 1) => {
  const n = Buffer.from(name)
  return Uint8Array.from([5, cmd, 0, 3, n.length, ...n, port >> 8, port & 0xff])
}

describe("SOCKS5 greeting", () => {
  it("waits for the whole greeting, then says whether no-auth is offered", () => {
    expect(parseGreeting(bytes(5))._tag).toBe("Incomplete")
    expect(parseGreeting(bytes(5, 2, 0))._tag).toBe("Incomplete")
    expect(parseGreeting(bytes(5, 2, 2, 0))).toEqual({ _tag: "Done", value: { noAuth: true }, consumed: 4 })
    expect(parseGreeting(bytes(5, 1, 2))).toEqual({ _tag: "Done", value: { noAuth: false }, consumed: 3 })
  })

  it("counts only its own bytes as consumed (a pipelined request follows)", () => {
    const g = parseGreeting(bytes(5, 1, 0, 5, 1, 0, 1))
    expect(g).toMatchObject({ _tag: "Done", consumed: 3 })
  })

  it("refuses SOCKS4 and an empty method list", () => {
    expect(parseGreeting(bytes(4, 1, 0, 80))._tag).toBe("Invalid")
    expect(parseGreeting(bytes(5, 0))._tag).toBe("Invalid")
  })
})

describe("SOCKS5 CONNECT request", () => {
  it("reads an IPv4 target", () => {
    expect(parseRequest(bytes(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90))).toEqual({
      _tag: "Done", value: { host: "127.0.0.1", port: 8080, addressType: "ipv4" }, consumed: 10
    })
  })

  it("reads an IPv6 target", () => {
    const addr = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    expect(parseRequest(bytes(5, 1, 0, 4, ...addr, 0, 80))).toEqual({
      _tag: "Done", value: { host: "0:0:0:0:0:0:0:1", port: 80, addressType: "ipv6" }, consumed: 22
    })
    const doc = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0x10]
    expect(parseRequest(bytes(5, 1, 0, 4, ...doc, 1, 0))).toMatchObject({ value: { host: "2001:db8:0:0:0:0:abcd:10", port: 256 } })
  })

  it("keeps a domain name as sent, for the far side to resolve", () => {
    expect(parseRequest(domainRequest("db.internal", 5432))).toEqual({
      _tag: "Done", value: { host: "db.internal", port: 5432, addressType: "domain" }, consumed: 5 + 11 + 2
    })
  })

  it("is Incomplete at every cut of a request, and Done only with all of it", () => {
    const full = domainRequest("localhost", 80)
    for (let i = 0; i < full.length; i++) expect(parseRequest(full.subarray(0, i))._tag, `cut at ${i}`).toBe("Incomplete")
    expect(parseRequest(full)._tag).toBe("Done")
    // Bytes after the request (data sent early) are not consumed.
    const more = Uint8Array.from([...full, 71, 69, 84])
    expect(parseRequest(more)).toMatchObject({ _tag: "Done", consumed: full.length })
  })

  it("refuses BIND and UDP ASSOCIATE with 'command not supported'", () => {
    expect(parseRequest(domainRequest("x", 80, 2))).toMatchObject({ _tag: "Invalid", reply: Reply.COMMAND_NOT_SUPPORTED })
    expect(parseRequest(domainRequest("x", 80, 3))).toMatchObject({ _tag: "Invalid", reply: Reply.COMMAND_NOT_SUPPORTED })
  })

  it("refuses an unknown address type, an empty name, a name with NUL, port 0", () => {
    expect(parseRequest(bytes(5, 1, 0, 9, 1, 2, 3, 4, 0, 80))).toMatchObject({ _tag: "Invalid", reply: Reply.ADDRESS_TYPE_NOT_SUPPORTED })
    expect(parseRequest(bytes(5, 1, 0, 3, 0, 0, 80))).toMatchObject({ _tag: "Invalid", reply: Reply.GENERAL_FAILURE })
    expect(parseRequest(domainRequest("a\u0000b", 80))).toMatchObject({ _tag: "Invalid" })
    expect(parseRequest(bytes(5, 1, 0, 1, 127, 0, 0, 1, 0, 0))).toMatchObject({ _tag: "Invalid" })
  })

  it("fits the longest request in MAX_HANDSHAKE_BYTES", () => {
    const longest = domainRequest("a".repeat(255), 80)
    expect(longest.length).toBeLessThanOrEqual(MAX_HANDSHAKE_BYTES)
    expect(parseRequest(longest)._tag).toBe("Done")
  })
})

describe("SOCKS5 replies", () => {
  it("encodes a reply with a zero IPv4 bound address", () => {
    expect([...requestReply(Reply.SUCCEEDED)]).toEqual([5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    expect(requestReply(Reply.CONNECTION_REFUSED)[1]).toBe(5)
  })

  it("maps sshd's refusals to RFC 1928 codes", () => {
    expect(replyForRefusal(1, "administratively prohibited: open failed")).toBe(Reply.NOT_ALLOWED)
    expect(replyForRefusal(2, "Connection refused")).toBe(Reply.CONNECTION_REFUSED)
    expect(replyForRefusal(2, "Network is unreachable")).toBe(Reply.NETWORK_UNREACHABLE)
    expect(replyForRefusal(2, "No route to host")).toBe(Reply.HOST_UNREACHABLE)
    expect(replyForRefusal(2, "getaddrinfo: Name or service not known")).toBe(Reply.HOST_UNREACHABLE)
    expect(replyForRefusal(undefined, "something else")).toBe(Reply.GENERAL_FAILURE)
  })
})
