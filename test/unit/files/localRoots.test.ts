/**
 * The local_roots rules (src/files/localRoots.ts) on a real file system: real paths through
 * symlinks and `..`, exclusions under default and explicit roots, narrowing by client roots.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { denial, makeLocalRoots, narrowTo, realLocalPath } from "../../../src/files/localRoots.js"

const tmp = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-lr-")))
const real = (p: string, lastAsIs = false) => Effect.runPromise(realLocalPath(p, lastAsIs))

describe("realLocalPath", () => {
  it("resolves symlinks, and appends what does not exist yet to its nearest existing ancestor", async () => {
    const d = tmp()
    const target = tmp()
    fs.symlinkSync(target, path.join(d, "link"))
    expect(await real(path.join(d, "link", "new", "file"))).toBe(path.join(target, "new", "file"))
    // `..` after a symlink is the kernel's: the link's parent, not the lexical one.
    // (Strings, not path.join, which would fold the `..` first.)
    expect(await real(`${d}/link/../x`)).toBe(path.join(path.dirname(target), "x"))
    // `..` in the part that does not exist is plain.
    expect(await real(`${d}/new/../../y`)).toBe(path.join(path.dirname(d), "y"))
  })

  it("with lastAsIs, keeps a final file or symlink as a name in its real parent, but follows one to a directory", async () => {
    const d = tmp()
    const other = tmp()
    fs.writeFileSync(path.join(other, "f"), "")
    fs.symlinkSync(path.join(other, "f"), path.join(d, "to-file"))
    fs.symlinkSync(other, path.join(d, "to-dir"))
    fs.symlinkSync("/nonexistent-mcpssh", path.join(d, "dangling"))
    expect(await real(path.join(d, "to-file"), true)).toBe(path.join(d, "to-file"))
    expect(await real(path.join(d, "to-file"))).toBe(path.join(other, "f"))
    expect(await real(path.join(d, "to-dir"), true)).toBe(other)
    expect(await real(path.join(d, "dangling"), true)).toBe(path.join(d, "dangling"))
  })
})

describe("denial", () => {
  const home = tmp()
  const t = tmp()
  const rules = (explicitRoots?: Array<string>) =>
    Effect.runPromise(makeLocalRoots({ explicitRoots, home, tmp: t, own: [{ path: path.join(t, "known_hosts"), what: "the server's known_hosts" }] }))

  it("allows the default roots minus /proc, ~/.ssh and the server's own files", async () => {
    const r = await rules()
    expect(denial(r, path.join(home, "a"))).toBeUndefined()
    expect(denial(r, path.join(t, "b", "c"))).toBeUndefined()
    expect(denial(r, "/etc/passwd")).toMatch(/^is outside local_roots \(~ /)
    expect(denial(r, path.join(home, ".ssh", "id_ed25519"))).toMatch(/^is inside ~\/\.ssh/)
    expect(denial(r, path.join(home, ".ssh"))).toMatch(/^is ~\/\.ssh,/)
    expect(denial(r, path.join(t, "known_hosts"))).toBe("is the server's known_hosts, which transfers never touch")
    expect(denial(r, path.join(t, "known_hosts.old"))).toBeUndefined()
  })

  it("an explicit root replaces the defaults; an exclusion holds under it unless the root lies inside it", async () => {
    expect(denial(await rules(["/dev/shm"]), "/dev/shm/x")).toBeUndefined()
    expect(denial(await rules(["/dev/shm"]), path.join(t, "x"))).toMatch(/outside/)
    const all = await rules(["/"])
    expect(denial(all, "/etc/hostname")).toBeUndefined()
    expect(denial(all, "/proc/self/environ")).toMatch(/inside \/proc/)
    expect(denial(all, path.join(home, ".ssh", "k"))).toMatch(/\.ssh/)
    expect(denial(await rules([path.join(home, ".ssh")]), path.join(home, ".ssh", "k"))).toBeUndefined()
  })

  it("client roots narrow the default roots to what they share, never an explicit root", async () => {
    const inside = path.join(t, "project")
    const narrowed = narrowTo(await rules(), [inside, "/etc"])
    expect(denial(narrowed, path.join(inside, "x"))).toBeUndefined()
    expect(denial(narrowed, path.join(t, "other"))).toMatch(/^is outside the client's roots/)
    expect(denial(narrowed, "/etc/passwd")).toMatch(/outside/)
    // A client root above a default root keeps the default one.
    expect(denial(narrowTo(await rules(), ["/"]), path.join(home, "a"))).toBeUndefined()
    expect(denial(narrowTo(await rules(["/srv"]), [inside]), "/srv/x")).toBeUndefined()
  })
})
