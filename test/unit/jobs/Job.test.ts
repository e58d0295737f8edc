import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Job } from "../../../src/jobs/Job.js"
import { jobInfo } from "../../../src/jobs/model.js"
import { PRE_ATTACH_LIMIT } from "../../../src/jobs/LogMirror.js"
import { watchPrompt } from "../../../src/jobs/prompt.js"

const newJob = () => {
  const job = new Job({
    id: "job-test", host: "h", command: "c", label: null, pty: false, persistent: false,
    ringBufferLines: 100, ringBufferBytes: 1 << 20, maxLineBytes: 1024
  })
  // Prompt detection runs beside the job (the runner forks it in the job's scope); it ends with the job.
  Effect.runFork(watchPrompt(job))
  return job
}
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

  it("is awaiting input while the launcher's probe sees stdin read, with no prompt when none was printed", () => {
    const job = newJob()
    const before = job.changes.version
    job.stdinState(true)
    expect(job.awaitingInput).toBe(true)
    expect(job.changes.version).toBeGreaterThan(before)
    expect(jobInfo(job)).toMatchObject({ awaitingInput: true, prompt: null })
    job.stdinState(false)
    expect(job.awaitingInput).toBe(false)
    feed(job, "Name? ")
    job.stdinState(true)
    expect(jobInfo(job)).toMatchObject({ awaitingInput: true, prompt: "Name? " })
    job.inputSent()
    expect(job.awaitingInput).toBe(false)
    job.stdinState(true)
    job.ingest("stderr", Buffer.from("went on\n"))
    expect(job.awaitingInput).toBe(false)
    job.finish({ exitStatus: 0, signal: null })
    job.stdinState(true)
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

  it("bounds the log mirror's backlog when the disk cannot keep up, and says what it skipped", async () => {
    const job = newJob()
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "job-log-")), "job.log")
    const log = fs.createWriteStream(file)
    job.attachLog(log)
    log.cork() // a disk that takes nothing for now: writes pile up in memory
    const line = `${"x".repeat(1023)}\n`
    for (let i = 0; i < 20 * 1024; i++) job.ingest("stdout", Buffer.from(line)) // 20 MiB of lines
    expect(log.writableLength).toBeLessThan(17 * 1024 * 1024)
    log.uncork()
    await new Promise<void>((r) => log.once("drain", () => r()))
    feed(job, "after\n")
    await job.closeLog()
    const text = fs.readFileSync(file, "utf8").trimEnd().split("\n")
    const marker = text.find((l) => l.startsWith("[mcp-ssh-live]"))!
    const skipped = Number(/(\d+) lines not mirrored/.exec(marker)![1])
    expect(skipped).toBeGreaterThan(0)
    expect(text.filter((l) => l.startsWith("x")).length + skipped).toBe(20 * 1024)
    expect(text.at(-1)).toBe("after")
  })
})

describe("Job log mirror attached after output began", () => {
  const mirrorJob = () => new Job({
    id: "job-mirror", host: "h", command: "c", label: null, pty: false, persistent: false,
    ringBufferLines: 100, ringBufferBytes: 1 << 20, maxLineBytes: 1024, mirror: true
  })
  const lines = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `${i + from}\n`).join("")
  const attach = async (job: Job) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-mirror-")), "job.log")
    job.attachLog(fs.createWriteStream(file))
    return file
  }

  it("writes every line printed before the file was open, not only what the ring still holds", async () => {
    const job = mirrorJob()
    feed(job, lines(5000))
    const file = await attach(job)
    feed(job, lines(10, 5001))
    job.finish({ exitStatus: 0, signal: null })
    await job.closeLog()
    expect(fs.readFileSync(file, "utf8")).toBe(lines(5010))
  })

  it("falls back to the ring's lines when more than it keeps pending arrived first", async () => {
    const job = mirrorJob()
    expect(job.mirroredWhole).toBe(true)
    feed(job, `${"x".repeat(1023)}\n`.repeat(PRE_ATTACH_LIMIT / 1024 + 1000))
    expect(job.mirroredWhole).toBe(false)
    const file = await attach(job)
    job.finish({ exitStatus: 0, signal: null })
    await job.closeLog()
    expect(fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "")).toHaveLength(100)
  })
})
