import { describe, expect, it } from "vitest"
import { manyFilesInput, parseExisting, parseMany, parseOne } from "../../../src/transfers/remoteHash.js"

const h = (c: string) => c.repeat(64)

describe("host hash output", () => {
  it("reads one digest from openssl -r, sha256sum and shasum", () => {
    expect(parseOne(`${h("a")} *stdin\n`)).toBe(h("a"))
    expect(parseOne(`${h("b")}  -\n`)).toBe(h("b"))
    expect(parseOne("SHA256(stdin)= " + h("c"))).toBeUndefined()
    expect(parseOne("")).toBeUndefined()
  })

  it("maps many digests to their paths, in any of the three formats, escaped names included", () => {
    const rels = ["a.txt", "d/b c", "new\nline", "back\\slash", "-dash"]
    const out = [
      `${h("1")} *./a.txt`,
      `${h("2")}  ./d/b c`,
      `\\${h("3")}  ./new\\nline`,
      `\\${h("4")}  ./back\\\\slash`,
      `${h("5")} *./-dash`
    ].join("\n") + "\n"
    expect([...parseMany(out, rels)]).toEqual([["a.txt", h("1")], ["d/b c", h("2")], ["new\nline", h("3")], ["back\\slash", h("4")], ["-dash", h("5")]])
    expect(manyFilesInput(rels)).toBe("./a.txt\0./d/b c\0./new\nline\0./back\\slash\0./-dash\0")
  })

  it("leaves out what is missing, unasked for or ambiguous, for the caller to hash alone", () => {
    // OpenSSL does not escape: a raw newline splits the line, and a forged second line for another file makes it ambiguous.
    const out = `${h("1")} *./new\nline\n${h("2")} *./a\n${h("3")} *./a\n${h("4")} *./not-asked\n`
    const got = parseMany(out, ["new\nline", "a", "b"])
    expect([...got]).toEqual([])
  })

  it("reads what already exists in a tree's directories", () => {
    expect([...parseExisting("f ./a.txt\0d ./d\0l ./d/link\0f ./d/new\nline\0garbage\0")]).toEqual([
      ["a.txt", "f"],
      ["d", "d"],
      ["d/link", "l"],
      ["d/new\nline", "f"]
    ])
    expect(parseExisting("").size).toBe(0)
  })
})
