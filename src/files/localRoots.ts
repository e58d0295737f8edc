/**
 * Which local files a transfer may read or write (docs/CONFIG.md, "Local files"): those under `[server]
 * local_roots` (default: the home and the system temp directory), minus /proc, /sys, /dev,
 * ~/.ssh and the server's own files (known_hosts, config file, audit log, log directory, the
 * keys it is configured with). An operator who wants one of those names it, or a directory
 * inside it, in `local_roots` itself (e.g. /dev/shm). Every path is judged by its real path:
 * symlinks resolved, and for a path that does not exist yet, its nearest existing ancestor's.
 * A stdio client's MCP roots narrow the default roots (never an operator's explicit ones).
 *
 * @since 0.2.0
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { isInside } from "./treePaths.js"

/** A directory or file, by its real path, and how a refusal names it. */
export interface Area {
  readonly path: string
  readonly what: string
}

export interface LocalRoots {
  readonly roots: ReadonlyArray<Area>
  /** The operator named the roots (`local_roots`): client roots do not narrow them, and an exclusion a root lies in does not apply under it. */
  readonly explicit: boolean
  /** Set when a client's roots narrowed the defaults (the refusal says so). */
  readonly narrowed: boolean
  readonly exclusions: ReadonlyArray<Area>
}

export interface LocalRootsInput {
  /** `local_roots` / `--local-root`, absolute; undefined: the defaults. */
  readonly explicitRoots?: ReadonlyArray<string> | undefined
  readonly home: string
  readonly tmp: string
  /** The server's own files and directories (known_hosts, config file, audit log, log directory, keys). */
  readonly own: ReadonlyArray<Area>
}

const isWithin = isInside

const missing = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  return code === "ENOENT" || code === "ENOTDIR"
}

/**
 * The real path of `p` as the kernel would reach it: symlinks resolved; for a path that does
 * not exist (yet), the real path of its nearest existing ancestor with the rest appended
 * (the rest holds no symlink, so `..` in it is plain). With `lastAsIs`, a last component that
 * exists but is not a directory (a file, a symlink to one, a dangling symlink) is kept as a
 * name in its real parent: what a download replaces there is that entry, not what a symlink
 * points to. Fails with the file system's error when a path cannot be resolved (a loop).
 */
export const realLocalPath = (p: string, lastAsIs = false): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: async () => {
      const absolute = path.isAbsolute(p) ? p : `${process.cwd()}${path.sep}${p}`
      if (lastAsIs) {
        const st = await fsp.stat(absolute).catch((e: unknown) => (missing(e) ? undefined : Promise.reject(e)))
        const isDir = st?.isDirectory() === true
        const base = path.basename(absolute)
        if (!isDir && base !== ".." && base !== "." && (await fsp.lstat(absolute).catch(() => undefined)) !== undefined) {
          return path.join(await nearestReal(path.dirname(absolute)), base)
        }
      }
      return await nearestReal(absolute)
    },
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })

const nearestReal = async (absolute: string): Promise<string> => {
  const rest: Array<string> = []
  let cur = absolute
  for (;;) {
    try {
      return path.join(await fsp.realpath(cur), ...rest)
    } catch (e) {
      if (!missing(e)) throw e
      const parent = path.dirname(cur)
      if (parent === cur) throw e
      rest.unshift(path.basename(cur))
      cur = parent
    }
  }
}

/** The rules for a server: its roots and exclusions, by real path. */
export const makeLocalRoots = (input: LocalRootsInput): Effect.Effect<LocalRoots> =>
  Effect.gen(function*() {
    // An area that cannot be resolved (a loop) is judged by its given path.
    const real = (p: string, lastAsIs = false) => realLocalPath(p, lastAsIs).pipe(Effect.orElseSucceed(() => path.resolve(p)))
    const explicit = input.explicitRoots !== undefined
    const roots = explicit
      ? yield* Effect.forEach(input.explicitRoots!, (r) => Effect.map(real(r), (p) => ({ path: p, what: r })))
      : [
        { path: yield* real(input.home), what: "~" },
        { path: yield* real(input.tmp), what: input.tmp }
      ]
    const system = ["/proc", "/sys", "/dev"].map((p) => ({ path: p, what: p }))
    const own = [{ path: path.join(input.home, ".ssh"), what: "~/.ssh" }, ...input.own]
    // Both the given and the real path of each: either is how a path to it may read.
    const resolved = yield* Effect.forEach(own, (a) => Effect.map(real(a.path, true), (p) => ({ path: p, what: a.what })))
    const exclusions = dedupe([...system, ...own.map((a) => ({ path: path.resolve(a.path), what: a.what })), ...resolved])
    return { roots: dedupe(roots), explicit, narrowed: false, exclusions }
  })

const dedupe = (areas: ReadonlyArray<Area>): Array<Area> => {
  const seen = new Set<string>()
  return areas.filter((a) => !seen.has(a.path) && seen.add(a.path) !== undefined)
}

/**
 * `rules` narrowed to what a client's roots (real paths) share with the default roots; the
 * operator's explicit roots stay as they are.
 */
export const narrowTo = (rules: LocalRoots, clientRoots: ReadonlyArray<string> | undefined): LocalRoots => {
  if (rules.explicit || clientRoots === undefined) return rules
  const roots: Array<Area> = []
  for (const c of clientRoots) {
    for (const d of rules.roots) {
      if (isWithin(d.path, c)) roots.push({ path: c, what: c })
      else if (isWithin(c, d.path)) roots.push(d)
    }
  }
  return { ...rules, roots: dedupe(roots), narrowed: true }
}

/**
 * Why `real` (a real path, from `realLocalPath`) may not be read or written, naming the
 * rule; undefined when it may. An exclusion holds under every root but an explicit one
 * that lies inside it.
 */
export const denial = (rules: LocalRoots, real: string): string | undefined => {
  const under = rules.roots.filter((r) => isWithin(r.path, real))
  if (under.length === 0) {
    const list = rules.roots.length === 0 ? "none" : rules.roots.map((r) => r.what === r.path ? r.path : `${r.what} (${r.path})`).join(", ")
    return rules.narrowed
      ? `is outside the client's roots within local_roots (${list})`
      : `is outside local_roots (${list})`
  }
  const excludedUnder = (r: Area) => rules.exclusions.find((x) => isWithin(x.path, real) && !(rules.explicit && isWithin(x.path, r.path)))
  if (under.some((r) => excludedUnder(r) === undefined)) return undefined
  const x = excludedUnder(under[0]!)!
  if (x.path === real) return `is ${x.what}, which transfers never touch`
  return `is inside ${x.what}${x.what === x.path ? "" : ` (${x.path})`}, which transfers never touch`
}
