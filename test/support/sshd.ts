/**
 * The sshd harness for test files: `describeWithSshd` starts a real sshd before a
 * block's tests and stops it after (see `sshdServer.ts` for the server itself).
 */
import { afterAll, beforeAll, describe } from "vitest"
import { isRoot, type Sshd, sshdAvailable, type SshdOptions, startSshd } from "./sshdServer.js"

export * from "./sshdServer.js"

/**
 * A describe block with a running sshd: started before its tests, stopped after.
 * Without sshd (or root) the block fails under CI=true and is skipped loudly elsewhere.
 */
export const describeWithSshd = (name: string, fn: (sshd: () => Sshd) => void, options?: SshdOptions): void => {
  const missing = sshdAvailable() === undefined ? "sshd not found" : !isRoot() ? "not running as root" : undefined
  if (missing !== undefined && process.env.CI !== "true") {
    process.stderr.write(`\n*** SKIPPING "${name}": ${missing}; install openssh-server and run as root (docs/TESTING.md) ***\n\n`)
    describe.skip(name, () => fn(() => {
      throw new Error(missing)
    }))
    return
  }
  describe(name, () => {
    let sshd: Sshd | undefined
    beforeAll(async () => {
      if (missing !== undefined) throw new Error(`CI=true but ${missing}: the integration suite cannot run`)
      sshd = await startSshd(options)
    })
    afterAll(async () => {
      await sshd?.stop()
    })
    fn(() => {
      if (sshd === undefined) throw new Error("sshd not started")
      return sshd
    })
  })
}

