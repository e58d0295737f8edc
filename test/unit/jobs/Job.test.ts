import { describe, expect, it } from "vitest"
import { Job } from "../../../src/jobs/Job.js"

const newJob = () =>
  new Job({
    id: "job-test", host: "h", command: "c", label: null, pty: false, persistent: false,
    ringBufferLines: 100, ringBufferBytes: 1 << 20, maxLineBytes: 1024
  })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const feed = (job: Job, text: string) => job.ingest("stdout", Buffer.from(text))

describe("Job prompt detection", () => {
  it("marks a quiet prompt-like partial line as awaiting input, and clears it on output", async () => {
    const job = newJob()
    feed(job, "Reading package lists...\nDo you want to continue? [Y/n] ")
    expect(job.awaitingInput).toBe(false)
    const before = job.changes.version
    await sleep(450)
    expect(job.awaitingInput).toBe(true)
    expect(job.partial).toBe("Do you want to continue? [Y/n] ")
    expect(job.changes.version).toBeGreaterThan(before)
    feed(job, "y\n")
    expect(job.awaitingInput).toBe(false)
  })

  it("does not flag a line ending in ':' that keeps growing", async () => {
    const job = newJob()
    feed(job, "Compiling:")
    for (let i = 0; i < 8; i++) {
      await sleep(100)
      feed(job, ` module${i}:`)
      expect(job.awaitingInput).toBe(false)
    }
    feed(job, " done\n")
    await sleep(400)
    expect(job.awaitingInput).toBe(false)
  })

  it("does not flag a progress bar that stops moving", async () => {
    const job = newJob()
    feed(job, "\r[=====>      ] 45%:")
    await sleep(400)
    expect(job.awaitingInput).toBe(false)
  })

  it("masks secrets sent to stdin in later output", () => {
    const job = newJob()
    job.addMask("hunter2\n")
    feed(job, "you typed hunter2\n")
    expect(job.ring.read({ since: 0, stream: "both", maxLines: 10, maxBytes: 1000 }).lines[0]!.text).toBe("you typed ********")
  })
})
