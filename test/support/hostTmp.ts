/**
 * What end-to-end tests make in the host's /tmp: the harness's sshd runs on this machine, so
 * a suite removes its own files by name once it is done, and runs do not pile them up.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** Remove every entry of /tmp whose name matches `pattern` (name it after this process's PID). */
export const removeHostTmp = (pattern: RegExp): void => {
  for (const name of fs.readdirSync("/tmp")) if (pattern.test(name)) fs.rmSync(path.join("/tmp", name), { recursive: true, force: true })
}
