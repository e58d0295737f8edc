import { describe, expect, it } from "vitest"
import { parseKey } from "../../../src/output/keys.js"

const seq = (name: string, app = false) => parseKey(name)?.sequence(app)

describe("named keys", () => {
  it("map to xterm's sequences, arrows in the program's cursor-key mode", () => {
    expect(seq("Enter")).toBe("\r")
    expect(seq("Tab")).toBe("\t")
    expect(seq("Esc")).toBe("\x1b")
    expect(seq("Backspace")).toBe("\x7f")
    expect(seq("Up")).toBe("\x1b[A")
    expect(seq("Up", true)).toBe("\x1bOA")
    expect(seq("left", true)).toBe("\x1bOD")
    expect(seq("Home")).toBe("\x1b[H")
    expect(seq("PageDown")).toBe("\x1b[6~")
    expect(seq("F1")).toBe("\x1bOP")
    expect(seq("F5")).toBe("\x1b[15~")
    expect(seq("F12")).toBe("\x1b[24~")
    expect(seq("C-c")).toBe("\x03")
    expect(seq("C-[")).toBe("\x1b")
    expect(seq("C-Z")).toBe("\x1a")
    expect(seq("M-x")).toBe("\x1bx")
  })

  it("name the keys tmux send-keys takes", () => {
    expect(["Enter", "Esc", "Up", "PageUp", "F3", "C-c", "M-x", "Backspace", "Delete"].map((n) => parseKey(n)?.tmux))
      .toEqual(["Enter", "Escape", "Up", "PPage", "F3", "C-c", "M-x", "BSpace", "DC"])
  })

  it("refuses what is not a key", () => {
    for (const bad of ["", "F13", "C-", "C-;", "Hyper-x", "Ctrl-c", "M-\u00e9", "enter;", "a"]) expect(parseKey(bad), bad).toBeUndefined()
  })
})
