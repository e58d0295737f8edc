/**
 * Trims the JSON Schema that Effect generates down to what tells a model (or a client's
 * validator) something, since every byte of `tools/list` is read by the model on every
 * session: no `$schema` (MCP's default is 2020-12 already), no `additionalProperties: true`
 * (the default), no ±2^53 bounds on every integer, and `T | null` as `type: [T, "null"]`
 * instead of an `anyOf`. What the schema accepts does not change, except that an output
 * schema may go without `required`: every field of our results is always present (null
 * when empty), so listing them all again says nothing, and results still match.
 *
 * @since 0.1.0
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

const isObject = (j: Json | undefined): j is JsonObject => typeof j === "object" && j !== null && !Array.isArray(j)

/** `{ anyOf: [{ type: T, … }, { type: "null" }] }` as `{ type: [T, "null"], … }`, when that is the same schema. */
const nullable = (schema: JsonObject): JsonObject | undefined => {
  const anyOf = schema.anyOf
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return undefined
  const [value, nul] = anyOf as ReadonlyArray<Json>
  if (!isObject(value) || !isObject(nul) || Object.keys(nul).length !== 1 || nul.type !== "null") return undefined
  if (typeof value.type !== "string" || value.type === "null") return undefined
  // With `enum` or `const`, null must be listed too; other keywords of one type do not constrain null.
  if ("const" in value || "anyOf" in value || "oneOf" in value || "allOf" in value || "$ref" in value) return undefined
  const { anyOf: _, ...outer } = schema
  const merged: Record<string, Json> = { ...value, type: [value.type, "null"] }
  if (Array.isArray(value.enum)) merged.enum = [...(value.enum as ReadonlyArray<Json>), null]
  for (const [k, v] of Object.entries(outer)) merged[k] = v
  return merged
}

/** Keywords whose value maps names to schemas. */
const NAMED = new Set(["properties", "patternProperties", "$defs", "definitions"])

export interface CompactOptions {
  /** Leave out `required` (for output schemas, see above). */
  readonly dropRequired?: boolean
}

export const compactSchema = (schema: Json, options: CompactOptions = {}): Json => {
  if (Array.isArray(schema)) return schema.map((s) => compactSchema(s, options))
  if (!isObject(schema)) return schema
  const out: Record<string, Json> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$schema") continue
    if (key === "required" && options.dropRequired === true) continue
    if (key === "additionalProperties" && value === true) continue
    if (key === "minimum" && value === Number.MIN_SAFE_INTEGER) continue
    if (key === "maximum" && value === Number.MAX_SAFE_INTEGER) continue
    // Enum values and property names are data, not schemas.
    out[key] = key === "enum" || key === "const" || key === "required"
      ? value
      : NAMED.has(key) && isObject(value)
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compactSchema(v, options)]))
      : compactSchema(value, options)
  }
  return nullable(out) ?? out
}
