/**
 * A fast path for `Schema.encodeSync` over the plain output schemas tools use: structs,
 * arrays, nullable and literal unions of strings, numbers, booleans and literals, with
 * checks only on those leaves (e.g. `Int`), and no transformations. Encoding such a
 * schema only validates and picks the declared keys, which a function compiled once
 * from the AST does without Effect's per-node machinery (`ssh_tail` of 10 000 lines:
 * ~5 ms → well under 1 ms).
 *
 * A value that already is its own encoding (plain objects with exactly the declared keys
 * in their order, arrays of such) is returned as it is, not copied: the same JSON, no
 * garbage. It never decides alone that a value is invalid: whatever it cannot vouch for (a
 * failed check, a missing key, an unexpected type) goes to `Schema.encodeSync`, which
 * returns its result or throws its error. A schema with any node outside that subset
 * is encoded by `Schema.encodeSync` alone.
 *
 * @since 0.1.0
 */
import { Schema, SchemaAST } from "effect"

/** "Cannot vouch for it": let Schema decide. */
const FAIL: unique symbol = Symbol("fastEncode.fail")
type Compiled = (u: unknown) => unknown

const noOptions: SchemaAST.ParseOptions = {}

/** The leaf's checks (filters, in groups or not) as one predicate: true when every filter passes. */
const checksOf = (ast: SchemaAST.AST, checks: SchemaAST.Checks): ((u: unknown) => boolean) => {
  const filters: Array<SchemaAST.Filter<unknown>> = []
  const collect = (c: SchemaAST.Check<unknown>): void => {
    if (c._tag === "Filter") filters.push(c)
    else c.checks.forEach(collect)
  }
  checks.forEach(collect)
  return (u) => {
    for (const f of filters) if (f.run(u, ast, noOptions) !== undefined) return false
    return true
  }
}

const leaf = (ast: SchemaAST.AST, is: (u: unknown) => boolean): Compiled => {
  if (ast.checks === undefined) return (u) => (is(u) ? u : FAIL)
  const ok = checksOf(ast, ast.checks)
  return (u) => (is(u) && ok(u) ? u : FAIL)
}

const isLeaf = (ast: SchemaAST.AST): boolean =>
  ast._tag === "String" || ast._tag === "Number" || ast._tag === "Boolean" || ast._tag === "Null" ||
  ast._tag === "Undefined" || ast._tag === "Literal"

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The compiled encoder of `ast`, or undefined when it is outside the subset. */
const compile = (ast: SchemaAST.AST): Compiled | undefined => {
  if (ast.encoding !== undefined) return undefined
  switch (ast._tag) {
    case "String":
      return leaf(ast, (u) => typeof u === "string")
    case "Number":
      return leaf(ast, (u) => typeof u === "number")
    case "Boolean":
      return leaf(ast, (u) => typeof u === "boolean")
    case "Null":
      return leaf(ast, (u) => u === null)
    case "Undefined":
      return leaf(ast, (u) => u === undefined)
    case "Literal": {
      const literal = ast.literal
      return leaf(ast, (u) => u === literal)
    }
    case "Union": {
      // Which member matches decides nothing when at most one member is not a leaf:
      // leaves encode to the value itself. `oneOf` (exactly one match) is left to Schema.
      if (ast.checks !== undefined || ast.encodingChecks !== undefined || ast.options?.mode === "oneOf") return undefined
      if (ast.types.filter((t) => !isLeaf(t)).length > 1) return undefined
      const members: Array<Compiled> = []
      for (const t of ast.types) {
        const c = compile(t)
        if (c === undefined) return undefined
        members.push(c)
      }
      return (u) => {
        for (const m of members) {
          const r = m(u)
          if (r !== FAIL) return r
        }
        return FAIL
      }
    }
    case "Arrays": {
      if (ast.checks !== undefined || ast.encodingChecks !== undefined) return undefined
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
      const item = compile(ast.rest[0]!)
      if (item === undefined) return undefined
      return (u) => {
        if (!Array.isArray(u)) return FAIL
        // As for structs: an array whose items are their own encodings is returned as it is.
        let out: Array<unknown> | undefined
        for (let i = 0; i < u.length; i++) {
          const v: unknown = u[i]
          const r = item(v)
          if (r === FAIL) return FAIL
          if (out === undefined && r !== v) out = u.slice(0, i)
          if (out !== undefined) out.push(r)
        }
        return out ?? (Object.getPrototypeOf(u) === Array.prototype ? u : [...u])
      }
    }
    case "Objects": {
      if (ast.checks !== undefined || ast.encodingChecks !== undefined || ast.indexSignatures.length > 0) return undefined
      const fields: Array<{ readonly key: string; readonly optional: boolean; readonly encode: Compiled }> = []
      for (const ps of ast.propertySignatures) {
        if (typeof ps.name !== "string" || ps.name === "__proto__") return undefined
        const encode = compile(ps.type)
        if (encode === undefined) return undefined
        fields.push({ key: ps.name, optional: ps.type.context?.isOptional === true, encode })
      }
      const keys = fields.map((f) => f.key)
      const encoders = fields.map((f) => f.encode)
      const optional = fields.map((f) => f.optional)
      const n = fields.length
      return (u) => {
        if (!isPlainObject(u)) return FAIL
        // The common case: exactly the declared keys (optional ones may be absent), in order,
        // each its own encoding. The value is then its own encoding too, and is returned as
        // it is (no copy).
        if (Object.getPrototypeOf(u) === Object.prototype) {
          let i = 0
          for (const k in u) {
            while (i < n && k !== keys[i] && optional[i]) i++
            if (i === n || k !== keys[i]) {
              i = -1
              break
            }
            i++
          }
          while (i >= 0 && i < n && optional[i]) i++
          if (i === n) {
            let same = true
            for (let j = 0; j < n; j++) {
              const key = keys[j]!
              if (optional[j] && !Object.hasOwn(u, key)) continue
              const v = u[key]
              const r = encoders[j]!(v)
              if (r === FAIL) return FAIL
              if (r !== v) {
                same = false
                break
              }
            }
            if (same) return u
          }
        }
        const out: Record<string, unknown> = {}
        for (const f of fields) {
          if (!Object.hasOwn(u, f.key)) {
            if (f.optional) continue
            return FAIL
          }
          const r = f.encode(u[f.key])
          if (r === FAIL) return FAIL
          out[f.key] = r
        }
        return out
      }
    }
    default:
      return undefined
  }
}

/**
 * `Schema.encodeSync(schema)`, with the compiled fast path when the schema allows one.
 * `fast` tells whether it does (for tests and the report).
 */
export const fastEncoder = <T>(schema: Schema.Codec<T, unknown, never, never>): {
  readonly encode: (value: T) => unknown
  readonly fast: boolean
} => {
  const slow = Schema.encodeSync(schema)
  const compiled = compile(schema.ast)
  if (compiled === undefined) return { encode: slow, fast: false }
  return {
    encode: (value) => {
      const r = compiled(value)
      return r === FAIL ? slow(value) : r
    },
    fast: true
  }
}
