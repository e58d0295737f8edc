import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"

// ssh2 quietly falls back to JS crypto when its native binding fails to load (e.g. built
// against another Node's headers): every transfer and job then runs slower, and nothing
// else tells. .ci/run points npm at the running Node's headers; a machine without a C++
// toolchain fails here on purpose.
const ssh2Crypto = createRequire(import.meta.url)("ssh2/lib/protocol/crypto.js") as { bindingAvailable?: boolean }

describe("ssh2 native crypto", () => {
  it("its binding is built for this Node and loads", () => {
    expect(ssh2Crypto.bindingAvailable).toBe(true)
  })
})
