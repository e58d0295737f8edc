import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import {
  fingerprintSha256,
  formatKnownHostsLine,
  hostPattern,
  keyTypeOfBlob,
  knownKeyTypes,
  verifyKnownHosts
} from "../../../src/ssh/KnownHostsFile.js"

interface Key { type: string; blob: Buffer; pubLine: string; file: string }

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kh-test-"))
const makeKey = (name: string, type = "ed25519"): Key => {
  const file = path.join(dir, name)
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file])
  const pubLine = fs.readFileSync(`${file}.pub`, "utf8").trim()
  const [t, b64] = pubLine.split(" ")
  return { type: t!, blob: Buffer.from(b64!, "base64"), pubLine, file }
}

describe("known_hosts", () => {
  let a: Key, b: Key, ecdsa: Key
  beforeAll(() => {
    a = makeKey("a")
    b = makeKey("b")
    ecdsa = makeKey("c", "ecdsa")
  })
  const entry = (k: Key) => `${k.type} ${k.blob.toString("base64")}`
  const check = (text: string, host: string, port: number, k: Key) => verifyKnownHosts(text, host, port, keyTypeOfBlob(k.blob), k.blob)

  it("computes the fingerprint ssh-keygen prints", () => {
    const printed = execFileSync("ssh-keygen", ["-lf", `${a.file}.pub`], { encoding: "utf8" }).split(" ")[1]
    expect(fingerprintSha256(a.blob)).toBe(printed)
  })

  it("reads the key type from the blob", () => {
    expect(keyTypeOfBlob(a.blob)).toBe("ssh-ed25519")
    expect(keyTypeOfBlob(ecdsa.blob)).toBe("ecdsa-sha2-nistp256")
  })

  it("writes [host]:port for other ports", () => {
    expect(hostPattern("h", 22)).toBe("h")
    expect(hostPattern("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222")
  })

  it("matches plain, bracketed, listed and wildcard entries", () => {
    expect(check(`example.com ${entry(a)}\n`, "example.com", 22, a)._tag).toBe("Match")
    expect(check(`example.com ${entry(a)}\n`, "example.com", 2222, a)._tag).toBe("Unknown")
    expect(check(`[127.0.0.1]:2222 ${entry(a)}\n`, "127.0.0.1", 2222, a)._tag).toBe("Match")
    expect(check(`foo,bar,[127.0.0.1]:2222 ${entry(a)}`, "127.0.0.1", 2222, a)._tag).toBe("Match")
    expect(check(`*.example.com ${entry(a)}`, "db.example.com", 22, a)._tag).toBe("Match")
    expect(check(`db?.example.com ${entry(a)}`, "db1.example.com", 22, a)._tag).toBe("Match")
    expect(check(`*.example.com,!db.example.com ${entry(a)}`, "db.example.com", 22, a)._tag).toBe("Unknown")
  })

  it("reports a changed key of the same type as a mismatch with its line", () => {
    const v = check(`# comment\n\nexample.com ${entry(b)}\n`, "example.com", 22, a)
    expect(v).toEqual({ _tag: "Mismatch", knownKeyType: "ssh-ed25519", line: 3 })
  })

  it("reports a host known only by another key type as OtherType (a changed key, not an unknown one)", () => {
    expect(check(`example.com ${entry(ecdsa)}`, "example.com", 22, a)).toEqual({ _tag: "OtherType", knownKeyType: "ecdsa-sha2-nistp256", line: 1 })
    expect(knownKeyTypes(`example.com ${entry(ecdsa)}\n[example.com]:2222 ${entry(a)}\n*.com ${entry(b)}\n@revoked example.com ${entry(a)}`, "example.com", 22))
      .toEqual(["ecdsa-sha2-nistp256", "ssh-ed25519"])
  })

  it("refuses a revoked key and ignores cert-authority lines", () => {
    expect(check(`@revoked * ${entry(a)}\nexample.com ${entry(a)}`, "example.com", 22, a)._tag).toBe("Mismatch")
    expect(check(`@cert-authority * ${entry(a)}`, "example.com", 22, a)._tag).toBe("Unknown")
  })

  it("matches entries hashed by ssh-keygen -H, on port 22 and others", () => {
    const file = path.join(dir, "hashed")
    fs.writeFileSync(file, `example.com ${entry(a)}\n[127.0.0.1]:2222 ${entry(b)}\n`)
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" })
    const text = fs.readFileSync(file, "utf8")
    expect(text).not.toContain("example.com")
    expect(text.split("\n").filter((l) => l.startsWith("|1|"))).toHaveLength(2)
    expect(check(text, "example.com", 22, a)._tag).toBe("Match")
    expect(check(text, "127.0.0.1", 2222, b)._tag).toBe("Match")
    expect(check(text, "127.0.0.1", 2222, a)._tag).toBe("Mismatch")
    expect(check(text, "other.com", 22, a)._tag).toBe("Unknown")
  })

  it("skips malformed lines without throwing", () => {
    const text = `garbage\n@weird x y z\nexample.com ssh-ed25519 !!!notbase64\nexample.com ${entry(a)}`
    expect(check(text, "example.com", 22, a)._tag).toBe("Match")
  })

  it("formats a line that verifies, and that OpenSSH accepts", () => {
    const line = formatKnownHostsLine("127.0.0.1", 2222, "ssh-ed25519", a.blob)
    expect(check(line, "127.0.0.1", 2222, a)._tag).toBe("Match")
    const file = path.join(dir, "formatted")
    fs.writeFileSync(file, line + "\n")
    const found = execFileSync("ssh-keygen", ["-F", "[127.0.0.1]:2222", "-f", file], { encoding: "utf8" })
    expect(found).toContain(a.blob.toString("base64"))
  })
})
