/**
 * What the policy's command check costs per call (issue #23: well under a millisecond or
 * two for ordinary commands after warm-up): loading the bash parser once, then the
 * `read_only` check and the whole policy check (`read_only` + `allow` + `deny` +
 * `confirm`) on each command of the ordinary and bypass corpora. Prints the figures; not
 * a test.
 *
 * Run: node bench/policy.ts   (from the sources; BENCH_ROUNDS=N for more rounds than 200)
 */
import { register } from "node:module"
import { BYPASSES, ORDINARY } from "../test/unit/policy/readOnlyCorpus.ts"

// The sources import each other as `./x.js` (what tsc emits); Node runs them as `./x.ts`.
register(
  "data:text/javascript," +
    encodeURIComponent(
      "export async function resolve(s, c, next) { try { return await next(s, c) } catch (e) { " +
        "if (s.startsWith('.') && s.endsWith('.js')) return next(s.slice(0, -3) + '.ts', c); throw e } }"
    )
)
const { loadBashParser } = await import("../src/domain/bashParser.ts")
const { check } = await import("../src/domain/policy.ts")
const { combine, compileRules } = await import("../src/domain/policyRules.ts")
const { readOnlyViolation } = await import("../src/domain/readOnly.ts")

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200)

let t = performance.now()
const parser = await loadBashParser()
const loadMs = performance.now() - t

const rules = compileRules({
  readOnly: true,
  allow: ["[a-z]+( .*)?"],
  deny: ["\\brm\\s+-[a-zA-Z]*r", "mkfs", "\\bdd\\b"],
  confirm: ["^systemctl (restart|stop) "]
}, "[policy]")
if ("key" in rules) throw new Error(rules.message)
const policy = combine(rules)!

/** Microseconds per command: median and 99th percentile over ROUNDS passes of `commands`. */
const measure = (commands: ReadonlyArray<string>, run: (c: string) => unknown) => {
  for (const c of commands) run(c)
  const perCommand: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of commands) {
      const start = performance.now()
      run(c)
      perCommand.push((performance.now() - start) * 1000)
    }
  }
  perCommand.sort((a, b) => a - b)
  const at = (q: number) => perCommand[Math.min(perCommand.length - 1, Math.floor(q * perCommand.length))]!.toFixed(1)
  return `median ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`
}

const bypasses = BYPASSES.map(([c]) => c)
t = performance.now()
const rows: ReadonlyArray<readonly [string, string]> = [
  ["parser load (once)", `${loadMs.toFixed(1)} ms`],
  [`read_only, ${ORDINARY.length} ordinary commands`, measure(ORDINARY, (c) => readOnlyViolation(parser, c))],
  [`read_only, ${bypasses.length} bypass attempts`, measure(bypasses, (c) => readOnlyViolation(parser, c))],
  ["whole check (deny, read_only, allow, confirm), ordinary", measure(ORDINARY, (c) => check(policy, { _tag: "Command", command: c }, parser))],
  ["whole check, bypass attempts", measure(bypasses, (c) => check(policy, { _tag: "Command", command: c }, parser))]
]
for (const [what, figure] of rows) process.stdout.write(`${what.padEnd(58)} ${figure}\n`)
process.stdout.write(`(${ROUNDS} rounds, ${((performance.now() - t) / 1000).toFixed(1)} s, Node ${process.version})\n`)
