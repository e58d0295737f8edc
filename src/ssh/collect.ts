/**
 * Collect a short command's whole output from an exec channel (small helper commands
 * of ours: kill, cat, ls — not user commands, which go through Exec with caps).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { RemoteChannel } from "./RemoteChannel.js"

export interface Collected {
  readonly stdout: string
  readonly stderr: string
  /** null when the channel closed without an exit status (e.g. the connection died). */
  readonly code: number | null
}

export const collect = (channel: RemoteChannel, stdin?: string): Effect.Effect<Collected> =>
  Effect.callback<Collected>((resume) => {
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    let code: number | null = null
    channel.on("data", (d: Buffer) => out.push(d))
    channel.stderr.on("data", (d: Buffer) => err.push(d))
    channel.on("exit", (c: number | null) => {
      code = typeof c === "number" ? c : null
    })
    channel.on("error", () => {})
    channel.on("close", () =>
      resume(Effect.succeed({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code })))
    channel.end(stdin ?? "")
  })
