/**
 * How large a result may be. Claude Code and VS Code hand the model `JSON.stringify` of a
 * result's `structuredContent` (Claude Code refuses results over 25 000 tokens and files
 * those over ~50 000 characters away), so every result a default call returns stays within
 * 16 KiB of that JSON (about 4k tokens), whatever the host printed or holds; what does not
 * fit stays reachable (a job to page with `ssh_tail`, a cursor) and the result says how.
 * A caller may raise a tool's budget, never past 1 MiB.
 *
 * @since 0.3.0
 */

/** The default budget of a result: 16 KiB of JSON. */
export const DEFAULT_REPLY_BYTES = 16_384
/** The most a caller may ask for. */
export const MAX_REPLY_BYTES = 1_048_576

const bytes = (o: unknown) => Buffer.byteLength(JSON.stringify(o))

/**
 * A page of `items` from index `cursor`: as many as fit in `budget` bytes of JSON together
 * with `rest` (the result's other fields, `next_cursor` at its largest included), at least
 * one. `next_cursor` is the index to ask for next, null after the last item.
 */
export const pageWithin = <T>(
  items: ReadonlyArray<T>,
  cursor: number,
  budget: number,
  rest: Record<string, unknown>
): { readonly page: ReadonlyArray<T>; readonly next_cursor: number | null } => {
  let used = bytes({ ...rest, items: [], next_cursor: items.length })
  let end = cursor
  while (end < items.length) {
    const b = bytes(items[end]) + (end > cursor ? 1 : 0)
    if (end > cursor && used + b > budget) break
    used += b
    end++
  }
  return { page: items.slice(cursor, end), next_cursor: end < items.length ? end : null }
}
