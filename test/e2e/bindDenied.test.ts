/**
 * A tunnel's local port that is not ours to take (a privileged port, for a server that does
 * not run as root) is reported as such, `PORT_DENIED`, not as a port in use. The built
 * listener is run in a child node that drops to an unprivileged user first (as root, which
 * the suites run as, nothing is denied); the port is the highest one the kernel keeps for
 * privileged processes (`net.ipv4.ip_unprivileged_port_start` - 1).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")

const unprivilegedStart = (): number => {
  try {
    return Number(fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim())
  } catch {
    return 1024
  }
}

/** Listen on 127.0.0.1:`port` with the built `listen`, as uid/gid 65534 when we are root; the failure as the agent reads it. */
const listenUnprivileged = (port: number) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    const script = `
      const { Effect, Exit, Cause } = await import("effect")
      const { listen } = await import("./dist/tunnels/listen.js")
      if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534) }
      const exit = await Effect.runPromiseExit(Effect.scoped(listen("127.0.0.1", ${port}, (s) => s.destroy())))
      const e = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      const v = e !== undefined && e._tag === "Some" ? e.value : undefined
      console.log(JSON.stringify(v === undefined ? { listened: true } : {
        tag: v._tag, code: v.code, reason: v.reason, errno: v.errno, port: v.port,
        text: v.code + ": " + v.message + (v.hint === undefined ? "" : " (hint: " + v.hint + ")"),
        cause: v.cause?.code
      }))`
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`${err.message}\n${stderr}`))
      resolve(JSON.parse(stdout) as Record<string, unknown>)
    })
  })

describe("binding a tunnel's local port", () => {
  it("a privileged port without privileges: PORT_DENIED with errno EACCES, not PORT_IN_USE", async () => {
    const start = unprivilegedStart()
    // A kernel that keeps no port for privileged processes cannot deny a bind this way.
    expect(start, "net.ipv4.ip_unprivileged_port_start must be > 0 for this test").toBeGreaterThan(0)
    const port = start - 1
    const r = await listenUnprivileged(port)
    expect(r).toMatchObject({ tag: "BindError", code: "PORT_DENIED", reason: "denied", errno: "EACCES", port, cause: "EACCES" })
    expect(r.text).toBe(
      `PORT_DENIED: bind_port: 127.0.0.1:${port}: permission denied (hint: ports below 1024 need privileges; choose a higher bind_port, or 0)`
    )
  })
})
