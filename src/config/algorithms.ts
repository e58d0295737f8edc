/**
 * `[server.algorithms]` checked against what ssh2 speaks.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { AlgorithmLists } from "../domain/config.js"
import type { ConfigError } from "../domain/errors.js"
import { defaultAlgorithms, supportedAlgorithms } from "../ssh/algorithms.js"
import type { ConfigFile } from "./configFile.js"
import { fail } from "./fail.js"

const ALGORITHM_KEYS = { kex: "kex", cipher: "cipher", hmac: "hmac", server_host_key: "serverHostKey" } as const

/** `[server.algorithms]`: every name must be one ssh2 speaks (it would throw at connect time otherwise). */
export const checkAlgorithms = (
  section: NonNullable<ConfigFile["server"]>["algorithms"],
  fileName: string
): Effect.Effect<Partial<AlgorithmLists> | undefined, ConfigError> =>
  Effect.gen(function*() {
    if (section === undefined) return undefined
    const out: { -readonly [K in keyof AlgorithmLists]?: AlgorithmLists[K] } = {}
    for (const [key, field] of Object.entries(ALGORITHM_KEYS) as Array<[keyof typeof ALGORITHM_KEYS, keyof AlgorithmLists]>) {
      const list = section[key]
      if (list === undefined) continue
      const unknown = list.find((a) => !supportedAlgorithms[field].includes(a))
      if (unknown !== undefined) {
        return yield* fail(
          `${fileName}: server.algorithms.${key}: "${unknown}" is not supported`,
          `supported: ${supportedAlgorithms[field].join(", ")}; default: ${defaultAlgorithms[field].join(", ")}`
        )
      }
      out[field] = list
    }
    return out
  })
