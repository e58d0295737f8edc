import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { commandBlock, fieldWithNul, PID_MARKER, shellQuote, wrapCommand } from "../../../src/ssh/shell.js"

const sh = (script: string, shell = "/bin/sh", input?: Buffer | string) =>
  execFileSync(shell, ["-c", script], { encoding: "utf8", ...(input !== undefined ? { input } : {}), maxBuffer: 16 << 20 })

describe("shell wrapper", () => {
  it("quotes anything for sh", () => {
    for (const s of ["plain", "it's", "$HOME `id` \"q\" \\ \n newline", "'", "''", ""]) {
      expect(sh(`printf %s ${shellQuote(s)}`)).toBe(s)
    }
  })

  it("finds NUL bytes in any field, env values included", () => {
    expect(fieldWithNul({ command: "ok", env: { A: "x" }, cwd: undefined })).toBeUndefined()
    expect(fieldWithNul({ command: "a\u0000b" })).toBe("command")
    expect(fieldWithNul({ command: "ok", env: { A: "x", B: "\u0000" } })).toBe("env.B")
  })

  for (const shell of ["/bin/sh", "/bin/bash"]) {
    it(`prints the marker with the shell's pid first, then runs the command from stdin (${shell})`, () => {
      const block = commandBlock({ command: "echo \"$$ $A\"; pwd; cat", env: { A: "x'y secret" }, cwd: "/tmp" })
      const out = sh(wrapCommand({}), shell, Buffer.concat([block, Buffer.from("stdin stays\n")]))
      const [marker, line, pwd, rest] = out.split("\n")
      expect(marker!.startsWith(PID_MARKER)).toBe(true)
      const pid = marker!.slice(PID_MARKER.length)
      expect(line).toBe(`${pid} x'y secret`)
      expect(pwd).toBe("/tmp")
      expect(rest).toBe("stdin stays")
    })

    it(`reads a large block exactly, leaving the command's stdin whole (${shell})`, () => {
      const command = `: ${"x".repeat(300_000)}; echo big; cat`
      const out = sh(wrapCommand({}), shell, Buffer.concat([commandBlock({ command }), Buffer.from("after\n")]))
      expect(out.split("\n").slice(1)).toEqual(["big", "after", ""])
    })

    it(`keeps values exact, whichever way the block is read (${shell})`, () => {
      const odd = "  lead \\ back\\slash \\n 'q' \"d\" trail  \n\n  second\t\r\nlast\\"
      for (const lines of [1, 200]) {
        const command = `${Array.from({ length: lines }, () => ":").join("\n")}\nprintf '%s' "$V"`
        const out = sh(wrapCommand({}), shell, commandBlock({ command, env: { V: odd } }))
        expect(out.slice(out.indexOf("\n") + 1)).toBe(odd)
      }
    })

    it(`runs nothing from a block cut short (${shell})`, () => {
      const block = commandBlock({ command: "echo ran" })
      let out = ""
      try {
        execFileSync(shell, ["-c", wrapCommand({})], { input: block.subarray(0, block.length - 3), encoding: "utf8", stdio: "pipe" })
      } catch (e) {
        out = (e as { stdout: string }).stdout
      }
      expect(out).not.toContain("ran")
    })

    it(`reports a syntax error after the marker (${shell})`, () => {
      let out = ""
      try {
        execFileSync(shell, ["-c", wrapCommand({})], { input: commandBlock({ command: "if then fi (" }), encoding: "utf8", stdio: "pipe" })
      } catch (e) {
        out = (e as { stdout: string }).stdout
      }
      expect(out.startsWith(PID_MARKER)).toBe(true)
    })

    it(`keeps the command's exit status (${shell})`, () => {
      let status = 0
      try {
        execFileSync(shell, ["-c", wrapCommand({})], { input: commandBlock({ command: "exit 7" }), stdio: "pipe" })
      } catch (e) {
        status = (e as { status: number }).status
      }
      expect(status).toBe(7)
    })
  }
})
