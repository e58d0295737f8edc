import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { helpText, loadConfig } from "../../../src/config/loadConfig.js"
import { defaultLimits, flagName, limitKeys, limitSpecs, limitTable, tomlKey } from "../../../src/domain/limits.js"

// Every test iterates over the Limits schema's keys: a new limit is covered by construction.

const home = fs.mkdtempSync(path.join(os.tmpdir(), "limits-home-"))
const write = (name: string, text: string) => {
  const file = path.join(home, name)
  fs.writeFileSync(file, text)
  return file
}
const run = (argv: Array<string>) => Effect.runSyncExit(loadConfig(argv, { HOME: home }))
const limitsOf = (argv: Array<string>) => {
  const exit = run(argv)
  if (Exit.isFailure(exit) || exit.value._tag !== "Run") throw new Error(`expected Run: ${JSON.stringify(exit)}`)
  return exit.value.config.limits
}
const errorOf = (argv: Array<string>) => Effect.runSync(Effect.flip(loadConfig(argv, { HOME: home }))).message

/** A valid value other than the default (a fraction for non-integers). */
const otherValue = (key: typeof limitKeys[number]) => {
  const s = limitSpecs[key]
  const v = s.default === s.maximum ? s.minimum : s.integer ? s.default + 1 : s.default + 0.5
  expect(v).not.toBe(s.default)
  return v
}

describe("limits", () => {
  it("has a key for every field of the Limits type", () => {
    expect(Object.keys(defaultLimits).sort()).toEqual([...limitKeys].sort())
    expect(limitKeys).toContain("killGraceMs")
    expect(limitKeys).toContain("connectTimeoutMs")
    expect(limitKeys).toContain("keepaliveIntervalMs")
  })

  it.each(limitKeys)("%s is settable in the file's [limits] section", (key) => {
    const value = otherValue(key)
    const file = write(`${key}.toml`, `[limits]\n${tomlKey(key)} = ${value}\n`)
    const limits = limitsOf(["--config", file])
    expect(limits[key]).toBe(value)
    for (const other of limitKeys) if (other !== key) expect(limits[other]).toBe(defaultLimits[other])
  })

  it.each(limitKeys)("%s is settable by its flag, which wins over the file", (key) => {
    const value = otherValue(key)
    const file = write(`${key}-both.toml`, `[limits]\n${tomlKey(key)} = ${limitSpecs[key].default}\n`)
    expect(limitsOf([`--${flagName(key)}`, String(value)])[key]).toBe(value)
    expect(limitsOf(["--config", file, `--${flagName(key)}`, String(value)])[key]).toBe(value)
  })

  it.each(limitKeys)("%s is refused out of range, naming the flag or the key", (key) => {
    const over = limitSpecs[key].maximum + 1
    expect(errorOf([`--${flagName(key)}`, String(over)])).toContain(`--${flagName(key)}: expected`)
    const file = write(`${key}-over.toml`, `[limits]\n${tomlKey(key)} = ${over}\n`)
    expect(errorOf(["--config", file])).toContain(`limits.${tomlKey(key)}`)
    if (limitSpecs[key].integer) expect(errorOf([`--${flagName(key)}`, "1.5"])).toContain(`--${flagName(key)}`)
  })

  it.each(limitKeys)("%s appears in --help with its default", (key) => {
    const line = helpText.split("\n").findIndex((l) => l.startsWith(`  --${flagName(key)} `))
    expect(line).toBeGreaterThanOrEqual(0)
    const text = helpText.split("\n").slice(line, line + 2).join(" ")
    expect(text).toContain(`(default: ${limitSpecs[key].default})`)
  })

  it("docs/CONFIG.md holds the current limits table (npm run docs:limits)", () => {
    const doc = fs.readFileSync(new URL("../../../docs/CONFIG.md", import.meta.url), "utf8")
    expect(doc).toContain(`-->\n${limitTable()}\n<!-- limits:end -->`)
    for (const key of limitKeys) expect(doc).toContain(`\`${tomlKey(key)}\``)
  })
})
