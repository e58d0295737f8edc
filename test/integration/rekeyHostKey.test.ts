/**
 * A connection's re-keys against a real sshd making new keys every 1 MiB, while a channel
 * streams both ways: the host key shown at a re-key is answered at once, never after a
 * look-up.
 *
 * ssh2 1.17 asks `hostVerifier` again at each re-key. Answered later (an async verifier), it
 * takes sshd's NEWKEYS before the answer and installs the new decipher, stops queueing what
 * it sends, but its packet writer still puts payloads at offset 0, over the packet's length
 * field: a window adjustment, a keepalive or stdin sent meanwhile reaches sshd as "Bad packet
 * length 1560281088" (0x5d000000: a WINDOW_ADJUST for channel 0) and sshd drops the
 * connection; a job on it ends `lost` (test/integration/jobReadBuffers.test.ts, now and then
 * on a loaded machine, when the known_hosts file read of a re-key's check took long enough).
 * Here that look-up is made slow at re-keys and stdin is written every 5 ms, so that every
 * re-key would open that window and send into it.
 */
import { Effect, Layer } from "effect"
import { expect, it } from "vitest"
import { AppConfig } from "../../src/domain/AppConfig.js"
import { KnownHosts } from "../../src/ssh/KnownHosts.js"
import { SshClient } from "../../src/ssh/SshClient.js"
import { boxEntry } from "../support/libraryHost.js"
import { describeWithSshd } from "../support/sshd.js"

/** 16 MiB: a re-key at least every MiB (about thirty, counted once). */
const BYTES = 16 << 20

describeWithSshd("re-keys while a channel streams (sshd making new keys every 1 MiB)", (getSshd) => {
  it("keeps the connection when the host key look-up is slow: a re-key's key is answered at once", async () => {
    const sshd = getSshd()
    let checks = 0
    // KnownHosts as it is, but 300 ms slow after the handshake's check.
    const slowKnownHosts = Layer.effect(KnownHosts)(Effect.gen(function*() {
      const real = yield* KnownHosts
      return KnownHosts.of({
        ...real,
        path: real.path,
        check: (host, port, key) => ++checks === 1 ? real.check(host, port, key) : Effect.delay(real.check(host, port, key), "300 millis")
      })
    })).pipe(Layer.provide(KnownHosts.layer))
    const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const conn = yield* (yield* SshClient).open(boxEntry(sshd))
      // 16 MiB out while the client writes a line to stdin every 5 ms (until all came): some
      // packet of ours is always being sent while a re-key is answered.
      return yield* Effect.callback<{ bytes: number; code: number | null | undefined }>((resume) => {
        conn.exec(`head -c ${BYTES} /dev/zero; cat >/dev/null`, {}, (err, ch) => {
          if (err !== undefined) return resume(Effect.succeed({ bytes: -1, code: undefined }))
          let bytes = 0
          let code: number | null | undefined
          const ticker = setInterval(() => ch.write("tick\n"), 5)
          ch.stderr.on("data", () => {})
          ch.on("data", (d) => {
            bytes += d.length
            if (bytes === BYTES) {
              clearInterval(ticker)
              ch.end()
            }
          })
          ch.on("exit", (c) => void (code = c))
          ch.on("close", () => {
            clearInterval(ticker)
            resume(Effect.succeed({ bytes, code }))
          })
        })
      })
    })).pipe(
      Effect.provide(SshClient.layer.pipe(Layer.provide(slowKnownHosts), Layer.provideMerge(AppConfig.layer({ knownHostsPath: sshd.knownHostsPath }))))
    ))
    // A dropped connection closes the channel early, with no exit status.
    expect(result).toEqual({ bytes: BYTES, code: 0 })
    // The handshake's key was looked up; the re-keys' were not.
    expect(checks).toBe(1)
  }, 60_000)
}, { extraConfig: "RekeyLimit 1M" })
