/**
 * Vitest global setup: every test file's temporary files (and those of the servers and
 * sshds it starts) go under one directory per run, removed when the run ends. Test files
 * need not clean up after themselves for the disk to stay clean, which matters on a
 * machine that runs the suite many times (one run's 50 MB and 200 MB transfer files add up).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export default function setup(): () => void {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-test-run-"))
  // Test users on the sshd side reach files under it (served pages, uploaded sources).
  fs.chmodSync(run, 0o755)
  process.env.TMPDIR = run
  return () => fs.rmSync(run, { recursive: true, force: true })
}
