import { describe, expect, it } from "vitest"
import { ByteTail } from "../../../src/output/ByteTail.js"

const bytes = (s: string) => Buffer.from(s)

describe("ByteTail", () => {
  it("keeps what was pushed, by absolute offset, and grows only as needed", () => {
    const t = new ByteTail(1 << 20)
    t.push(bytes("hello "))
    t.push(bytes("world"))
    expect(t.total).toBe(11)
    expect(t.start).toBe(0)
    expect(t.all().toString()).toBe("hello world")
    expect(t.since(6)?.toString()).toBe("world")
    expect(t.since(11)?.toString()).toBe("")
  })

  it("keeps the last `cap` bytes across wrap-arounds and says when a range was evicted", () => {
    const t = new ByteTail(10)
    let all = ""
    for (let i = 0; i < 50; i++) {
      const chunk = `${i}:`.repeat((i % 4) + 1)
      all += chunk
      t.push(bytes(chunk))
      expect(t.all().toString()).toBe(all.slice(-10))
      expect(t.start).toBe(Math.max(0, all.length - 10))
    }
    expect(t.since(all.length - 4)?.toString()).toBe(all.slice(-4))
    expect(t.since(all.length - 11)).toBeUndefined()
  })

  it("takes a chunk larger than its cap (its end)", () => {
    const t = new ByteTail(8)
    t.push(bytes("ab"))
    t.push(bytes("0123456789ABCDEF"))
    expect(t.all().toString()).toBe("89ABCDEF")
    expect(t.total).toBe(18)
    expect(t.since(10)?.toString()).toBe("89ABCDEF")
    expect(t.since(9)).toBeUndefined()
  })
})
