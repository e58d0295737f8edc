/**
 * `~/.ssh/config` evaluated for one host as OpenSSH's readconf.c does: `Host` and `Match`
 * blocks (`all`, `host`, `originalhost`, `user`, `localuser`, `exec`, `final`,
 * `canonical`, negated with `!`), `Include` (globs, relative to ~/.ssh, inside a block
 * only when the block applies, 16 deep), first value wins (IdentityFile and
 * CertificateFile add up), and ProxyJump / ProxyCommand: whichever comes first. The
 * `ssh-config` package tokenises each file (quotes, `=`, comments); it reads no included
 * file and its own `compute()` is not used.
 *
 * What applied but is not honoured is returned (`ignored`), never dropped silently.
 * `Match exec` runs its command through the shell, as ssh does (the operator's own
 * commands), with its `%` tokens expanded; `exec` is given by the caller.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import SSHConfig from "ssh-config"

/** Directives we act on (lower case); every other one that applies is reported as ignored. */
const HONOURED = new Set([
  "host",
  "match",
  "include",
  "hostname",
  "user",
  "port",
  "identityfile",
  "certificatefile",
  "identityagent",
  "identitiesonly",
  "proxyjump",
  "proxycommand",
  "serveraliveinterval"
])
/** Directives that add up instead of first-wins. */
const REPEATABLE = new Set(["identityfile", "certificatefile"])
/** Match criteria we evaluate; the others (localnetwork, tagged, command, sessiontype, version) are reported. */
const CRITERIA = new Set(["all", "canonical", "final", "exec", "host", "originalhost", "user", "localuser"])
const MAX_INCLUDE_DEPTH = 16

export interface EvalInput {
  /** The name as given (`%n`, what Host patterns match). */
  readonly host: string
  /** The user given by the caller, if any (as `ssh -l`: it wins over User). */
  readonly user?: string | undefined
  readonly localUser: string
  readonly home: string
  /** The config file itself. */
  readonly file: string
  /** Run a `Match exec` command (tokens expanded): whether it exited 0. */
  readonly exec: (command: string) => boolean
  /** Expand `%` tokens in a Match exec command with what is known so far. */
  readonly expandExec: (command: string, known: { readonly hostName: string; readonly user: string; readonly port: string | undefined }) => string
}

export interface Evaluated {
  /** The first value of each honoured directive that applied (lower-case keyword), repeatable ones all. */
  readonly values: ReadonlyMap<string, ReadonlyArray<string>>
  /** What applied and is not honoured: directive names as written, `Match <criterion>`, unreadable Includes. */
  readonly ignored: ReadonlyArray<string>
}

type Line = SSHConfig[number]
interface Directive {
  readonly param: string
  readonly value: string | ReadonlyArray<{ readonly val: string; readonly separator: string; readonly quoted?: boolean }>
  readonly config?: SSHConfig
}

const isDirective = (l: Line): l is Line & Directive => "param" in l && typeof l.param === "string" && l.param !== ""

/** A directive's arguments, unquoted. */
const args = (d: Directive): Array<string> => (typeof d.value === "string" ? [d.value] : d.value.map((v) => v.val))

/** A command's text as written (ProxyCommand, Match exec): the words again, quotes kept. */
const commandText = (d: Directive): string =>
  typeof d.value === "string"
    ? d.value
    : d.value.map((v, i) => `${i === 0 ? "" : v.separator}${v.quoted === true ? `"${v.val.replace(/"/g, "\\\"")}"` : v.val}`).join("").trim()

/** OpenSSH's `match_pattern`: `*` any run, `?` one character. */
export const globMatch = (pattern: string, text: string): boolean => {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")
  return new RegExp(`^(?:${re})$`, "s").test(text)
}

/** A comma-separated pattern list: no negated pattern matches and some other does (`match_pattern_list`). */
export const patternListMatch = (list: string, text: string, caseless: boolean): boolean => {
  const subject = caseless ? text.toLowerCase() : text
  let matched = false
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!")
    const pattern = caseless ? raw.slice(negated ? 1 : 0).toLowerCase() : raw.slice(negated ? 1 : 0)
    if (!globMatch(pattern, subject)) continue
    if (negated) return false
    matched = true
  }
  return matched
}

/** A `Host` line's patterns (space-separated, each maybe negated) against the name. */
const hostLineMatches = (patterns: ReadonlyArray<string>, host: string): boolean => {
  let matched = false
  for (const p of patterns) {
    const negated = p.startsWith("!")
    if (!globMatch((negated ? p.slice(1) : p).toLowerCase(), host.toLowerCase())) continue
    if (negated) return false
    matched = true
  }
  return matched
}

/** Files an `Include` argument names: `~` expanded, relative to ~/.ssh, globbed in each component, sorted. */
const includeFiles = (arg: string, home: string): Array<string> => {
  const expanded = arg === "~" || arg.startsWith("~/") ? path.join(home, arg.slice(1)) : arg
  const full = path.isAbsolute(expanded) ? expanded : path.join(home, ".ssh", expanded)
  let found = ["/"]
  for (const part of full.split("/").filter((p) => p !== "")) {
    if (!/[*?]/.test(part)) {
      found = found.map((dir) => path.join(dir, part))
      continue
    }
    found = found.flatMap((dir) => {
      try {
        return fs.readdirSync(dir).filter((n) => !n.startsWith(".") && globMatch(part, n)).sort().map((n) => path.join(dir, n))
      } catch {
        return []
      }
    })
  }
  return found.filter((f) => {
    try {
      return fs.statSync(f).isFile()
    } catch {
      return false
    }
  })
}

/** Evaluate the config file for `input.host`; never throws for the file's content (what it cannot use is reported). */
export const evaluateSshConfig = (input: EvalInput): Evaluated => {
  const values = new Map<string, Array<string>>()
  const ignored: Array<string> = []
  const note = (what: string) => {
    if (!ignored.some((i) => i.toLowerCase() === what.toLowerCase())) ignored.push(what)
  }
  let wantFinal = false
  let finalPass = false
  const current = () => ({
    hostName: values.get("hostname")?.[0]?.replace(/%h/g, input.host) ?? input.host,
    user: input.user ?? values.get("user")?.[0] ?? input.localUser,
    port: values.get("port")?.[0]
  })

  const matchLine = (d: Directive): boolean => {
    const words = typeof d.value === "string" ? [{ val: d.value, quoted: false }] : d.value
    let result = true
    for (let i = 0; i < words.length; i++) {
      const raw = words[i]!.val
      const negated = raw.startsWith("!")
      const criterion = (negated ? raw.slice(1) : raw).toLowerCase()
      if (criterion === "all" || criterion === "canonical" || criterion === "final") {
        if (criterion === "final" || criterion === "canonical") wantFinal = true
        const hit = criterion === "all" ? true : finalPass
        if (hit === negated) result = false
        continue
      }
      const arg = words[++i]?.val
      if (arg === undefined) {
        note(`Match ${criterion} (no argument: the block was skipped)`)
        return false
      }
      if (!CRITERIA.has(criterion)) {
        note(`Match ${criterion}`)
        return false
      }
      // Like ssh, later criteria are not evaluated once one fails (a Match exec does not run).
      if (!result) continue
      const now = current()
      const hit = criterion === "host"
        ? patternListMatch(arg, now.hostName, true)
        : criterion === "originalhost"
        ? patternListMatch(arg, input.host, true)
        : criterion === "user"
        ? patternListMatch(arg, now.user, false)
        : criterion === "localuser"
        ? patternListMatch(arg, input.localUser, false)
        : input.exec(input.expandExec(arg, now))
      if (hit === negated) result = false
    }
    return result
  }

  const apply = (d: Directive) => {
    const keyword = d.param.toLowerCase()
    if (!HONOURED.has(keyword)) return note(d.param)
    const list = keyword === "proxycommand" ? [commandText(d)] : args(d)
    if (list.length === 0) return
    if (REPEATABLE.has(keyword)) {
      values.set(keyword, [...(values.get(keyword) ?? []), ...list])
      return
    }
    // ProxyJump and ProxyCommand exclude each other: the first one given wins (as in ssh).
    if ((keyword === "proxyjump" && values.has("proxycommand")) || (keyword === "proxycommand" && values.has("proxyjump"))) return
    if (!values.has(keyword)) values.set(keyword, list)
  }

  const walk = (lines: ReadonlyArray<Line>, active: boolean, depth: number): void => {
    let on = active
    for (const line of lines) {
      if (!isDirective(line)) continue
      const keyword = line.param.toLowerCase()
      if (keyword === "host" || keyword === "match") {
        on = active && (keyword === "host" ? hostLineMatches(args(line), input.host) : matchLine(line))
        walk(line.config ?? [], on, depth)
        on = active
        continue
      }
      if (!on) continue
      if (keyword === "include") {
        for (const arg of args(line)) include(arg, depth)
        continue
      }
      apply(line)
    }
  }

  const include = (arg: string, depth: number) => {
    if (depth >= MAX_INCLUDE_DEPTH) return note(`Include ${arg} (more than ${MAX_INCLUDE_DEPTH} deep)`)
    for (const file of includeFiles(arg, input.home)) {
      const parsed = parseFile(file)
      if (parsed === undefined) note(`Include ${file} (unreadable or not ssh_config)`)
      else walk(parsed, true, depth + 1)
    }
  }

  const top = parseFile(input.file)
  if (top === undefined && fs.existsSync(input.file)) note(`${input.file} (unreadable or not ssh_config: none of it was used)`)
  if (top !== undefined) {
    walk(top, true, 0)
    if (wantFinal) {
      finalPass = true
      walk(top, true, 0)
    }
  }
  return { values, ignored }
}

/** A file's lines, or undefined when it cannot be read or parsed. */
const parseFile = (file: string): SSHConfig | undefined => {
  try {
    return SSHConfig.parse(fs.readFileSync(file, "utf8"))
  } catch {
    return undefined
  }
}
