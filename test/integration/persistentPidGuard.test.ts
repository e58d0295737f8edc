/**
 * The guard before every signal to a persistent job (src/ssh/persistent.ts, `ownProcessGuard`)
 * and to a tmux job (src/ssh/tmux.ts, `tmuxProcessGuard`), run by a real shell over a real
 * sshd: a PID that no longer names the job's process (the job died unrecorded, the system
 * gave its PID to another process of the same user) takes no signal; the job's own process does.
 */
import { Effect } from "effect"
import { afterEach, expect, it } from "vitest"
import { layerConfig, ProcessGroups } from "../../src/index.js"
import { ownProcessGuard } from "../../src/ssh/persistent.js"
import { tmuxProcessGuard } from "../../src/ssh/tmux.js"
import { registerBox } from "../support/libraryHost.js"
import { startStranger } from "../support/recycledPid.js"
import { describeWithSshd } from "../support/sshd.js"

const GUARDS = [
  { kind: "persistent", guard: ownProcessGuard, jobsDir: "jobs" },
  { kind: "tmux", guard: tmuxProcessGuard, jobsDir: "tmux" }
] as const

for (const { guard, jobsDir, kind } of GUARDS) {
  describeWithSshd(`the PID guard of ${kind} jobs`, (getSshd) => {
    const jobId = `job-${process.pid.toString(16).padStart(8, "0").slice(-8)}`
    const dir = () => `~${getSshd().user.name}/.cache/mcp-ssh-live/${jobsDir}/${jobId}`

    /** A process of the test user leading its own group, as a job's (or a daemon's) does. */
    const startLeader = async () => Number(await startStranger(getSshd(), 600))
    const alive = async (pid: number) => (await getSshd().exec(`kill -0 ${pid} && echo yes`)).stdout.trim() === "yes"

    /** The job's directory as its launch leaves it: `pid`, and `pstart` as the shell read it then (or `start`). */
    const writeDir = async (pid: number, start?: string) => {
      const sshd = getSshd()
      const pstart = start ?? `$(sed 's/.*) //' /proc/${pid}/stat | cut -d' ' -f20)`
      await sshd.exec(`su ${sshd.user.name} -c "mkdir -p ${dir()} && echo ${pid} > ${dir()}/pid && echo ${pstart} > ${dir()}/pstart"`)
    }

    const send = (pid: number) =>
      Effect.runPromise(Effect.gen(function*() {
        yield* registerBox(getSshd())
        return yield* (yield* ProcessGroups).send("box", pid, "TERM", undefined, guard(jobId))
      }).pipe(Effect.provide(layerConfig({ knownHostsPath: getSshd().knownHostsPath }))))

    const leaders: Array<number> = []
    afterEach(async () => {
      await getSshd().exec(`rm -rf ${dir()}; kill ${leaders.join(" ")} 2>/dev/null; true`)
      leaders.length = 0
    })

    it("lets the signal through to the job's own process", async () => {
      const pid = await startLeader()
      leaders.push(pid)
      await writeDir(pid)
      expect(await send(pid)).toBe(true)
      await expect.poll(() => alive(pid), { timeout: 5000 }).toBe(false)
    })

    it("stops it for a process with the job's PID that started at another time", async () => {
      const pid = await startLeader()
      leaders.push(pid)
      await writeDir(pid, "12345")
      expect(await send(pid)).toBe(false)
      expect(await alive(pid)).toBe(true)
    })

    it("stops it when the job's directory says it ended (no start time recorded, an `exit` file)", async () => {
      const pid = await startLeader()
      leaders.push(pid)
      const sshd = getSshd()
      await sshd.exec(`su ${sshd.user.name} -c "mkdir -p ${dir()} && echo ${pid} > ${dir()}/pid && echo 0 > ${dir()}/exit"`)
      expect(await send(pid)).toBe(false)
      expect(await alive(pid)).toBe(true)
    })
  })
}
