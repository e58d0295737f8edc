/**
 * Replace the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in a doc, or with
 * `--check` only say whether it is current (exit code 1 if not).
 */
import * as fs from "node:fs"

export const writeBetweenMarkers = (file: string, name: string, content: string): void => {
  const start = `<!-- ${name}:start (generated: do not edit) -->`
  const end = `<!-- ${name}:end -->`
  const text = fs.readFileSync(file, "utf8")
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error(`${file}: no ${start} … ${end} markers`)
  const next = `${text.slice(0, a + start.length)}\n${content}\n${text.slice(b)}`
  if (process.argv.includes("--check")) {
    if (next !== text) {
      process.stderr.write(`${file}: the ${name} section is out of date; run npm run ${name === "graph" ? "graph" : "docs:limits"}\n`)
      process.exitCode = 1
    }
    return
  }
  if (next !== text) fs.writeFileSync(file, next)
}
