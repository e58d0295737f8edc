/** The library example runs, against a real sshd, importing the package by its name. */
import { Effect } from "effect"
import { expect, it } from "vitest"
import { countLines } from "../../examples/spawn-and-stream.js"
import { describeWithSshd } from "../support/sshd.js"

describeWithSshd("library example", (getSshd) => {
  it("spawns a job and counts its streamed lines", async () => {
    const sshd = getSshd()
    const result = await Effect.runPromise(countLines({
      host: sshd.host, port: sshd.port, user: sshd.user.name, keyPath: sshd.clientKeyPath, knownHostsPath: sshd.knownHostsPath
    }, "seq 1 5000"))
    expect(result).toEqual({ lines: 5000, status: "exited", exitStatus: 0 })
  })
})
