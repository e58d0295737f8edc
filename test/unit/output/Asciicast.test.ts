import { describe, expect, it } from "vitest"
import { AsciicastWriter, type CastFile } from "../../../src/output/Asciicast.js"

const file = () => {
  const writes: Array<string> = []
  const f: CastFile & { text(): string } = {
    write: (t) => (writes.push(t), true),
    end: (done) => done(),
    writableLength: 0,
    text: () => writes.join("")
  }
  return f
}

const setup = (secrets: Array<string> = []) => {
  let now = 1_000_000
  const f = file()
  const w = new AsciicastWriter({ width: 80, height: 24, timestamp: 1000, title: "t" }, () => now, 1_000_000, () => secrets)
  w.attach(f)
  return { w, f, secrets, tick: (ms: number) => void (now += ms) }
}

const events = (text: string) => text.trimEnd().split("\n").slice(1).map((l) => JSON.parse(l) as [number, string, string])

describe("AsciicastWriter", () => {
  it("writes the v2 header, then output and input events with their times", async () => {
    const { w, f, tick } = setup()
    w.output("stdout", Buffer.from("hello\r\n"))
    tick(1500)
    w.input("y\n")
    tick(250)
    w.output("stderr", Buffer.from("warn\r\n"))
    await w.close()
    expect(JSON.parse(f.text().split("\n")[0]!)).toEqual({ version: 2, width: 80, height: 24, timestamp: 1000, title: "t", env: { TERM: "xterm-256color" } })
    expect(events(f.text())).toEqual([[0, "o", "hello\r\n"], [1.5, "i", "y\n"], [1.75, "o", "warn\r\n"]])
  })

  it("joins a UTF-8 character cut across chunks", async () => {
    const { w, f } = setup()
    const bytes = Buffer.from("→ ok")
    w.output("stdout", bytes.subarray(0, 2))
    w.output("stdout", bytes.subarray(2))
    await w.close()
    expect(events(f.text()).map((e) => e[2]).join("")).toBe("→ ok")
  })

  it("never writes a secret, whole in a chunk or cut across chunks at any point", async () => {
    const secret = "hunter2"
    const data = `Password: ${secret}\r\nyou typed ${secret}!\r\n`
    for (let i = 0; i <= data.length; i++) {
      const { w, f } = setup([secret])
      w.output("stdout", Buffer.from(data.slice(0, i)))
      w.output("stdout", Buffer.from(data.slice(i)))
      await w.close()
      const text = f.text()
      expect(text, String(i)).not.toContain("hunter")
      expect(text.includes("hunte") || text.includes("unter2"), String(i)).toBe(false)
      expect(events(text).map((e) => e[2]).join("")).toBe("Password: ********\r\nyou typed ********!\r\n")
    }
  })

  it("collects until the file is open", async () => {
    const f = file()
    const w = new AsciicastWriter({ width: 80, height: 24, timestamp: 1 }, () => 0, 0, () => [])
    w.output("stdout", Buffer.from("early"))
    w.attach(f)
    await w.close()
    expect(events(f.text())).toEqual([[0, "o", "early"]])
  })
})
