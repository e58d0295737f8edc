import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { PID_MARKER, shellQuote, wrapCommand } from "../../../src/ssh/shell.js"

const sh = (script: string, shell = "/bin/sh") => execFileSync(shell, ["-c", script], { encoding: "utf8" })

describe("shell wrapper", () => {
  it("quotes anything for sh", () => {
    for (const s of ["plain", "it's", "$HOME `id` \"q\" \\ \n newline", "'", "''", ""]) {
      expect(sh(`printf %s ${shellQuote(s)}`)).toBe(s)
    }
  })

  for (const shell of ["/bin/sh", "/bin/bash"]) {
    it(`prints the marker with the shell's pid first, then runs the command (${shell})`, () => {
      const out = sh(wrapCommand({ command: "echo \"$$ $A\"; pwd", env: { A: "x'y" }, cwd: "/tmp" }), shell)
      const [marker, line, pwd] = out.split("\n")
      expect(marker!.startsWith(PID_MARKER)).toBe(true)
      const pid = marker!.slice(PID_MARKER.length)
      expect(line).toBe(`${pid} x'y`)
      expect(pwd).toBe("/tmp")
    })

    it(`reports a syntax error after the marker (${shell})`, () => {
      let out = ""
      try {
        execFileSync(shell, ["-c", wrapCommand({ command: "if then fi (" })], { encoding: "utf8", stdio: "pipe" })
      } catch (e) {
        out = (e as { stdout: string }).stdout
      }
      expect(out.startsWith(PID_MARKER)).toBe(true)
    })
  }
})
