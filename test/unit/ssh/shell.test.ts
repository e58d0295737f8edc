import { execFileSync, spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { commandBlock, fieldWithNul, PID_MARKER, shellQuote, STDIN_MARKER, wrapCommand } from "../../../src/ssh/shell.js"

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

  /**
   * Run the launcher as sshd does (stdin, stdout and stderr are pipes; node's own stdio would
   * be socket pairs), stderr merged into stdout; `answer` is written to stdin once the probe
   * reports a wait, then stdin is closed. Resolves with everything printed, markers shown as <1>/<0>.
   */
  const probed = (shell: string, command: string, answer?: string, launcher = wrapCommand({})) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", `cat | ${shell} -c "$L" 2>&1 | cat`], { env: { ...process.env, L: launcher } })
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString("utf8").split(`${STDIN_MARKER}1\n`).join("<1>").split(`${STDIN_MARKER}0\n`).join("<0>")
        if (answer !== undefined && out.includes("<1>")) {
          child.stdin.end(answer)
          answer = undefined
        }
      })
      child.on("error", reject)
      child.on("close", () => resolve(out.slice(out.indexOf("\n") + 1)))
      child.stdin.write(commandBlock({ command }))
      if (answer === undefined) child.stdin.end()
    })

  for (const shell of ["/bin/sh", "/bin/bash"]) {
    it(`reports a process blocked reading stdin with no prompt, and when it goes on (${shell})`, async () => {
      expect(await probed(shell, "read x; echo got $x; sleep 1.2", "alice\n")).toBe("<1>got alice\n<0>")
      expect(await probed(shell, `python3 -c 'print("py", input())'`, "bob\n")).toBe("<1>py bob\n")
    }, 20_000)

    it(`does not mistake a wait on a command substitution for one on stdin (${shell})`, async () => {
      expect(await probed(shell, "x=$(sleep 1.5; echo s); echo $x")).toBe("s\n")
    }, 20_000)

    it(`judges by open pipes where /proc/<pid>/syscall cannot be read (${shell})`, async () => {
      const launcher = wrapCommand({}).replace("/proc/$p/syscall", "/proc/$p/no-such-file")
      expect(launcher).not.toBe(wrapCommand({}))
      expect(await probed(shell, "read x; echo got $x", "carol\n", launcher)).toBe("<1>got carol\n")
      expect(await probed(shell, "x=$(sleep 1.5; echo s); echo $x", undefined, launcher)).toBe("s\n")
    }, 20_000)

    it(`leaves the command's own wait alone: the probe is no child of its shell (${shell})`, async () => {
      expect(await probed(shell, "sleep 1.2 & wait; echo waited")).toBe("waited\n")
    }, 20_000)
  }
})
