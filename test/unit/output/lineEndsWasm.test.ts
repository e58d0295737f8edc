import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { assemble, modulePath, moduleText } from "../../../scripts/wasm.ts"
import { lineEndsWasm } from "../../../src/output/lineEndsWasm.js"

describe("lineEndsWasm", () => {
  it("embeds the bytes of lineEnds.wat as WABT assembles it (else: node scripts/wasm.ts)", async () => {
    const bytes = await assemble()
    expect(Buffer.from(lineEndsWasm).toString("hex")).toBe(Buffer.from(bytes).toString("hex"))
    expect(fs.readFileSync(modulePath, "utf8")).toBe(moduleText(bytes))
  })
})
