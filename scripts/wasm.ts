/**
 * `node scripts/wasm.ts`: assembles src/output/lineEnds.wat (the SIMD `\n` scan) with WABT
 * and writes its bytes into src/output/lineEndsWasm.ts, so nothing compiles at install or
 * run time. A unit test (test/unit/output/lineEndsWasm.test.ts) fails when the two differ.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import wabt from "wabt"

export const watPath = fileURLToPath(new URL("../src/output/lineEnds.wat", import.meta.url))
export const modulePath = fileURLToPath(new URL("../src/output/lineEndsWasm.ts", import.meta.url))

/** The `.wat` assembled (no names section: the bytes depend on the code alone). */
export const assemble = async (): Promise<Uint8Array> => {
  const parsed = (await wabt()).parseWat("lineEnds.wat", fs.readFileSync(watPath, "utf8"), { simd: true })
  try {
    parsed.validate()
    return parsed.toBinary({ canonicalize_lebs: true, write_debug_names: false }).buffer
  } finally {
    parsed.destroy()
  }
}

/** The TS module that embeds `bytes`. */
export const moduleText = (bytes: Uint8Array): string => {
  const b64 = Buffer.from(bytes).toString("base64")
  const lines = b64.match(/.{1,96}/g) ?? []
  return `/**
 * The bytes of lineEnds.wat (the SIMD \`\\n\` scan), assembled by \`node scripts/wasm.ts\`:
 * generated, do not edit (test/unit/output/lineEndsWasm.test.ts checks they match the \`.wat\`).
 *
 * @since 0.1.0
 */
export const lineEndsWasm: Uint8Array = Buffer.from(
${lines.map((l) => `  "${l}"`).join(" +\n")},
  "base64"
)
`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(modulePath, moduleText(await assemble()))
}
