import { describe, expect, it } from "vitest"
import { ByteTail } from "../../../src/output/ByteTail.js"
import { TerminalScreen } from "../../../src/output/TerminalScreen.js"

const setup = (cap = 1 << 20, cols = 40, rows = 6) => {
  const tail = new ByteTail(cap)
  return { tail, screen: new TerminalScreen(tail, cols, rows), print: (s: string) => tail.push(Buffer.from(s)) }
}

describe("TerminalScreen", () => {
  it("renders what a terminal shows: lines, \\r overwrites, cursor moves, colours dropped", async () => {
    const { screen, print } = setup()
    print("first line\r\n\x1b[31mred\x1b[0m text\r\nprogress 10%\rprogress 99%")
    const s = await screen.render()
    expect(s.lines.slice(0, 4)).toEqual(["first line", "red text", "progress 99%", ""])
    expect(s.cursor).toEqual({ row: 2, col: 12 })
    expect(s.lines.length).toBe(6)
    expect(s.applicationCursor).toBe(false)
  })

  it("feeds only what came since the last render, and knows a full-screen program's modes", async () => {
    const { screen, print } = setup()
    print("shell$ vim\r\n")
    await screen.render()
    // vim: alternate screen, application cursor keys, clear, draw, cursor home.
    print("\x1b[?1049h\x1b[?1h\x1b=\x1b[H\x1b[2Jhello\r\n~\r\n~\x1b[6;1H-- INSERT --\x1b[1;6H")
    const s = await screen.render()
    expect(s.lines).toEqual(["hello", "~", "~", "", "", "-- INSERT --"])
    expect(s.cursor).toEqual({ row: 0, col: 5 })
    expect(s.applicationCursor).toBe(true)
    print("\x1b[?1l\x1b[?1049l")
    const back = await screen.render()
    expect(back.lines[0]).toBe("shell$ vim")
    expect(back.applicationCursor).toBe(false)
  })

  it("starts over from what the tail holds when more than its cap was printed in between", async () => {
    const { screen, print } = setup(64, 20, 3)
    print("old stuff\r\n")
    await screen.render()
    for (let i = 0; i < 50; i++) print(`line ${i}\r\n`)
    const s = await screen.render()
    expect(s.lines).toEqual(["line 48", "line 49", ""])
  })

  it("renders one after the other when asked twice at once (no byte fed twice)", async () => {
    const { screen, print } = setup()
    print("a\r\n")
    const [x, y] = await Promise.all([screen.render(), screen.render()])
    expect(x.lines.slice(0, 2)).toEqual(["a", ""])
    expect(y.lines.slice(0, 2)).toEqual(["a", ""])
  })
})
