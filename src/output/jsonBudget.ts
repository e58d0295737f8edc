/**
 * Sizes as a model's client sees them: what a string costs inside the JSON of a result
 * (`JSON.stringify(structuredContent)`, UTF-8), escapes included, and cuts of a string to
 * a cost. Results are kept within a byte budget of that JSON, whatever the remote printed
 * (control characters cost 6 bytes each there, a quote or backslash 2).
 *
 * @since 0.3.0
 */

/** What JSON.stringify escapes other than "\n": a quote, a backslash, a control character, half of a surrogate pair (when alone). */
const ESCAPED = /["\\\u0000-\u0009\u000b-\u001f\ud800-\udfff]/

/** Bytes `s` adds to a JSON text as a string's content (without its quotes). */
export const jsonCost = (s: string): number => {
  // Most output escapes nothing but its line ends: its UTF-8 length and one more byte per
  // "\n", without stringifying it (a tail's reply sizes half a megabyte of lines at once).
  if (ESCAPED.test(s)) return Buffer.byteLength(JSON.stringify(s)) - 2
  let cost = Buffer.byteLength(s)
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) cost++
  return cost
}

/** Whether index `i` of `s` falls between the two halves of a surrogate pair. */
const insidePair = (s: string, i: number): boolean => {
  if (i <= 0 || i >= s.length) return false
  const before = s.charCodeAt(i - 1)
  const after = s.charCodeAt(i)
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff
}

/** The longest length `k` (a character boundary) with `cost(k) ≤ budget`, where cost grows with k. */
const longest = (s: string, budget: number, cost: (k: number) => number): number => {
  let lo = 0
  let hi = s.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (cost(mid) <= budget) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** The longest start of `s` whose cost is at most `budget` (never half a surrogate pair). */
export const headWithin = (s: string, budget: number): string => {
  if (jsonCost(s) <= budget) return s
  // A cut inside a pair is moved before it (a lone half would cost 6 bytes): the cost then grows with k.
  const at = (k: number) => (insidePair(s, k) ? k - 1 : k)
  return s.slice(0, at(longest(s, budget, (k) => jsonCost(s.slice(0, at(k))))))
}

/** The longest end of `s` whose cost is at most `budget` (never half a surrogate pair). */
export const tailWithin = (s: string, budget: number): string => {
  if (jsonCost(s) <= budget) return s
  const at = (k: number) => (insidePair(s, s.length - k) ? k - 1 : k)
  return s.slice(s.length - at(longest(s, budget, (k) => jsonCost(s.slice(s.length - at(k))))))
}

/** `s` itself when it costs at most `budget`, else its end, after "…", within it (a prompt's end is what matters). */
export const endWithin = (s: string, budget: number): string =>
  jsonCost(s) <= budget ? s : `…${tailWithin(s, Math.max(0, budget - 3))}`
