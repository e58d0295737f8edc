/**
 * Sits between a sudo-wrapped process and its consumer until sudo has let the
 * command in: answers sudo's prompt with the password (once), swallows everything
 * sudo prints (prompt, a terminal's echo of the password), and reports the outcome.
 * After the ready marker it passes chunks straight through.
 *
 * @since 0.1.0
 */
import type { StreamName } from "../domain/jobs.js"
import type { Sink } from "./RemoteProcess.js"
import { SUDO_PROMPT, SUDO_READY } from "./shell.js"

export type SudoOutcome =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "PasswordRequired" }
  | { readonly _tag: "AuthFailed"; readonly detail: string }

const PROMPT = Buffer.from(SUDO_PROMPT)
const READY = Buffer.from(SUDO_READY)
/** What sudo printed before giving up is kept for the error message, up to this much. */
const DETAIL_LIMIT = 4096

export class SudoGate {
  private open = false
  private prompts = 0
  private seen: Record<StreamName, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }

  /**
   * @param password written (with a newline) at the first prompt; undefined when none is configured
   * @param answer writes to the process's stdin
   * @param settle called once with the outcome
   */
  constructor(
    private readonly password: string | undefined,
    private readonly answer: (data: string) => void,
    private readonly settle: (outcome: SudoOutcome) => void,
    private readonly next: Sink
  ) {}

  readonly sink: Sink = (stream, chunk) => {
    if (this.open) return this.next(stream, chunk)
    const buf = Buffer.concat([this.seen[stream], chunk])
    const ready = stream === "stdout" ? buf.indexOf(READY) : -1
    if (ready >= 0) {
      this.open = true
      let rest = buf.subarray(ready + READY.length)
      if (rest[0] === 0x0d) rest = rest.subarray(1)
      if (rest[0] === 0x0a) rest = rest.subarray(1)
      this.seen = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }
      this.settle({ _tag: "Ready" })
      if (rest.length > 0) this.next(stream, rest)
      return
    }
    let from = 0
    for (;;) {
      const at = buf.indexOf(PROMPT, from)
      if (at < 0) break
      from = at + PROMPT.length
      this.onPrompt()
    }
    // Keep only what the next search needs, plus a bounded tail for the error message.
    this.seen[stream] = buf.subarray(Math.max(from, buf.length - DETAIL_LIMIT))
  }

  /** The process ended before sudo let it in. */
  ended(): void {
    if (this.open) return
    this.fail()
  }

  private onPrompt(): void {
    this.prompts++
    if (this.prompts === 1) {
      if (this.password === undefined) {
        this.open = true
        return this.settle({ _tag: "PasswordRequired" })
      }
      return this.answer(`${this.password}\n`)
    }
    this.fail()
  }

  private fail(): void {
    this.open = true
    const detail = Buffer.concat([this.seen.stderr, this.seen.stdout]).toString("utf8")
      .split(SUDO_PROMPT).join("")
      .split(this.password ?? "\u0000").join("********")
      .replace(/\s+/g, " ")
      .trim()
    this.settle({ _tag: "AuthFailed", detail })
  }
}
