import { describe, expect, it } from "vitest"
import { addOwnListener, isOwnListener } from "../../../src/tunnels/ownListeners.js"

describe("the server's own listeners", () => {
  it("are what a connection to a local address and their port reaches", () => {
    const release = addOwnListener("127.0.0.1", 41999)
    try {
      expect(isOwnListener("127.0.0.1", 41999)).toBe(true)
      expect(isOwnListener("localhost", 41999)).toBe(true)
      expect(isOwnListener("127.0.0.1", 41998)).toBe(false)
      expect(isOwnListener("10.1.2.3", 41999)).toBe(false)
      expect(isOwnListener("example.com", 41999)).toBe(false)
    } finally {
      release()
    }
    expect(isOwnListener("127.0.0.1", 41999)).toBe(false)
    const any = addOwnListener("0.0.0.0", 41997)
    try {
      expect(isOwnListener("::ffff:127.0.0.1", 41997)).toBe(true)
      expect(isOwnListener("0.0.0.0", 41997)).toBe(true)
    } finally {
      any()
    }
  })
})
