/**
 * The --host flag's value.
 *
 * @since 0.1.0
 */
import { isAlias } from "../domain/hosts.js"

/** Parse `alias=addr[:port]` (IPv6 as `alias=[::1]:2222`). */
export const parseHostFlag = (value: string): { alias: string; host: string; port: number } | undefined => {
  const m = /^([^=]*)=(?:\[([^\]]+)\]|([^:\s[\]]+))(?::(\d{1,5}))?$/.exec(value)
  if (m === null || !isAlias(m[1])) return undefined
  const port = m[4] === undefined ? 22 : Number(m[4])
  if (port < 1 || port > 65535) return undefined
  return { alias: m[1]!, host: (m[2] ?? m[3])!, port }
}
