/**
 * The opt-in policy, as pure data and pure checks: rules from the configuration
 * (`[policy]` for every host, `[hosts.<alias>.policy]` for one), compiled (regexes with
 * RE2: linear time), combined per host, and asked about one action at a time. The
 * `Policy` service (src/services/Policy.ts) finds a host's rules; the MCP tools ask the
 * human when a `confirm` rule matches.
 *
 * A seat belt for the operator, not a sandbox: a rule sees the text of a command, not what
 * the host will make of it.
 *
 * @since 0.2.0
 */
import { RE2JS } from "re2js"
import { readOnlyViolation } from "./readOnly.js"

/** The rules as configured (one `[policy]` table); every key optional. */
export interface PolicyRules {
  /** Only commands of the read-only list (src/domain/readOnly.ts); no uploads, env, pty. */
  readonly readOnly?: boolean | undefined
  /** Regexes; when any is given, a command must match one of them in full. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Regexes; a command in which one is found is refused. */
  readonly deny?: ReadonlyArray<string> | undefined
  /** Regexes; a command in which one is found runs only if the human says yes. */
  readonly confirm?: ReadonlyArray<string> | undefined
  /** Remote path prefixes; when any is given, an upload must land under one of them. */
  readonly uploadAllow?: ReadonlyArray<string> | undefined
  /** Remote path prefixes an upload must not touch. */
  readonly uploadDeny?: ReadonlyArray<string> | undefined
  /** Port forwarding allowed (default true). */
  readonly tunnels?: boolean | undefined
}

/** The TOML key of each rule (for messages and `ssh_list_hosts`). */
export const ruleKeys = {
  readOnly: "read_only",
  allow: "allow",
  deny: "deny",
  confirm: "confirm",
  uploadAllow: "upload_allow",
  uploadDeny: "upload_deny",
  tunnels: "tunnels"
} as const satisfies Record<keyof PolicyRules, string>

/** A rule and the table it came from, e.g. `[hosts.web1.policy]`. */
interface Sourced<A> {
  readonly value: A
  readonly source: string
}

interface Pattern {
  readonly pattern: string
  readonly regex: RE2JS
  readonly source: string
}

/** One table's rules, compiled. */
export interface CompiledRules {
  readonly source: string
  readonly rules: PolicyRules
  readonly allow: ReadonlyArray<Pattern>
  readonly deny: ReadonlyArray<Pattern>
  readonly confirm: ReadonlyArray<Pattern>
}

/** A regex that does not compile: the key (e.g. `deny[2]`) and why. */
export interface RuleError {
  readonly key: string
  readonly message: string
}

/** Compile one table's regexes; `source` names the table in messages (`[policy]`). */
export const compileRules = (rules: PolicyRules, source: string): CompiledRules | RuleError => {
  const out: Record<"allow" | "deny" | "confirm", Array<Pattern>> = { allow: [], deny: [], confirm: [] }
  for (const key of ["allow", "deny", "confirm"] as const) {
    for (const [i, pattern] of (rules[key] ?? []).entries()) {
      try {
        out[key].push({ pattern, regex: RE2JS.compile(pattern), source })
      } catch (e) {
        return {
          key: `${key}[${i}]`,
          message: `${JSON.stringify(pattern)} is not a regular expression we can run (RE2 syntax: no lookaround or ` +
            `backreferences): ${(e as Error).message}`
        }
      }
    }
  }
  return { source, rules, ...out }
}

export const isRuleError = (r: CompiledRules | RuleError): r is RuleError => "key" in r

/**
 * A host's rules: the global table's combined with the host's own. Lists that refuse or
 * ask add up (`deny`, `confirm`, `upload_deny`); lists that permit (`allow`,
 * `upload_allow`) and the switches (`read_only`, `tunnels`) are the host's when the host
 * sets them, else the global ones. Undefined when neither table has a rule.
 */
export interface EffectivePolicy {
  readonly readOnly: Sourced<boolean> | undefined
  readonly allow: ReadonlyArray<Pattern>
  readonly deny: ReadonlyArray<Pattern>
  readonly confirm: ReadonlyArray<Pattern>
  readonly uploadAllow: ReadonlyArray<Sourced<string>>
  readonly uploadDeny: ReadonlyArray<Sourced<string>>
  readonly tunnels: Sourced<boolean> | undefined
}

const sourced = <A>(value: A | undefined, source: string): Sourced<A> | undefined =>
  value === undefined ? undefined : { value, source }

const paths = (list: ReadonlyArray<string> | undefined, source: string) => (list ?? []).map((value) => ({ value, source }))

export const combine = (global: CompiledRules | undefined, host: CompiledRules | undefined): EffectivePolicy | undefined => {
  if (global === undefined && host === undefined) return undefined
  const g = global?.rules ?? {}
  const h = host?.rules ?? {}
  const gs = global?.source ?? ""
  const hs = host?.source ?? ""
  const eff: EffectivePolicy = {
    readOnly: sourced(h.readOnly, hs) ?? sourced(g.readOnly, gs),
    allow: host !== undefined && host.allow.length > 0 ? host.allow : global?.allow ?? [],
    deny: [...global?.deny ?? [], ...host?.deny ?? []],
    confirm: [...global?.confirm ?? [], ...host?.confirm ?? []],
    uploadAllow: (h.uploadAllow ?? []).length > 0 ? paths(h.uploadAllow, hs) : paths(g.uploadAllow, gs),
    uploadDeny: [...paths(g.uploadDeny, gs), ...paths(h.uploadDeny, hs)],
    tunnels: sourced(h.tunnels, hs) ?? sourced(g.tunnels, gs)
  }
  return eff.readOnly === undefined && eff.allow.length === 0 && eff.deny.length === 0 && eff.confirm.length === 0 &&
      eff.uploadAllow.length === 0 && eff.uploadDeny.length === 0 && eff.tunnels === undefined
    ? undefined
    : eff
}

/** The effective rules as `ssh_list_hosts` shows them (TOML keys; only those set). */
export const describePolicy = (p: EffectivePolicy): Record<string, boolean | ReadonlyArray<string>> => ({
  ...(p.readOnly !== undefined ? { read_only: p.readOnly.value } : {}),
  ...(p.allow.length > 0 ? { allow: p.allow.map((r) => r.pattern) } : {}),
  ...(p.deny.length > 0 ? { deny: p.deny.map((r) => r.pattern) } : {}),
  ...(p.confirm.length > 0 ? { confirm: p.confirm.map((r) => r.pattern) } : {}),
  ...(p.uploadAllow.length > 0 ? { upload_allow: p.uploadAllow.map((r) => r.value) } : {}),
  ...(p.uploadDeny.length > 0 ? { upload_deny: p.uploadDeny.map((r) => r.value) } : {}),
  ...(p.tunnels !== undefined ? { tunnels: p.tunnels.value } : {})
})

/** What an action may do under a policy. */
export type Verdict =
  | { readonly _tag: "Allow" }
  /** Refused: `rule` names the rule and its table, `hint` what the agent can do. */
  | { readonly _tag: "Deny"; readonly rule: string; readonly hint: string }
  /** Allowed only if the human says yes; `rule` names the rule that asks. */
  | { readonly _tag: "Confirm"; readonly rule: string }

const allow: Verdict = { _tag: "Allow" }
const deny = (rule: string, hint: string): Verdict => ({ _tag: "Deny", rule, hint })
const ruleName = (kind: string, p: { readonly pattern: string; readonly source: string }) =>
  `${kind} rule ${JSON.stringify(p.pattern)} of ${p.source} matched`

const ASK_OPERATOR = "the operator's policy refuses it; do not try to get around it: ask the user"

/** What the agent sends for one command (`ssh_exec`, `ssh_spawn`, `ssh_exec_many`). */
export interface CommandAction {
  readonly _tag: "Command"
  readonly command: string
  /** Names of the environment variables set (values are never looked at). */
  readonly envNames?: ReadonlyArray<string> | undefined
  readonly pty?: boolean | undefined
  /** Data for the command's stdin (`ssh_exec`): checked as commands when the command is a shell. */
  readonly stdin?: string | undefined
}

/** Data written to a running job's stdin (`ssh_send_stdin`). */
export interface StdinAction {
  readonly _tag: "Stdin"
  /** The job's command: only a shell's stdin is checked. */
  readonly jobCommand: string
  readonly data: string
  readonly secret?: boolean | undefined
}

/** A file or directory tree written to the host (`ssh_upload`). */
export interface UploadAction {
  readonly _tag: "Upload"
  /** As given: absolute, or relative to the remote user's home. */
  readonly remotePath: string
}

/** A port forward (`ssh_tunnel_open`). */
export interface TunnelAction {
  readonly _tag: "Tunnel"
}

export type PolicyAction = CommandAction | StdinAction | UploadAction | TunnelAction

/**
 * Programs that read commands from their stdin: shells (by name or path, with any flags),
 * `su`, `sudo -i` / `sudo -s`, `ssh` (a shell elsewhere). Found anywhere among the
 * command's words (`sudo bash`, `docker exec -it web sh`, `env -i bash -l`); a false
 * positive only means that the job's stdin is checked.
 */
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "fish", "ash", "ksh", "mksh", "csh", "tcsh", "busybox", "su", "ssh"])

export const isShellCommand = (command: string): boolean => {
  const words = command.split(/[\s;&|()`'"]+/).filter((w) => w !== "")
  return words.some((w, i) =>
    SHELLS.has(w.slice(w.lastIndexOf("/") + 1)) ||
    (w === "sudo" && words.slice(i + 1).some((f) => /^-[A-Za-z]*[is]/.test(f) || f === "--login" || f === "--shell"))
  )
}

/** The checks on one command's text: deny, read_only, allow, confirm, in that order. */
const checkText = (p: EffectivePolicy, command: string, secret = false): Verdict => {
  const denied = p.deny.find((r) => r.regex.test(command))
  if (denied !== undefined) return deny(ruleName("deny", denied), ASK_OPERATOR)
  if (p.readOnly?.value === true) {
    const why = readOnlyViolation(command)
    if (why !== undefined) {
      return deny(
        `read_only of ${p.readOnly.source} (${secret ? "secret data" : why})`,
        "only simple read-only commands run on this host (see docs/CONFIG.md, read_only); no ;, $( ), redirections or unquoted globs"
      )
    }
  }
  if (p.allow.length > 0 && !p.allow.some((r) => r.regex.matches(command))) {
    return deny(
      `allow list of ${[...new Set(p.allow.map((r) => r.source))].join(" ")} (no rule matches the whole command)`,
      `commands on this host must match one of: ${p.allow.map((r) => JSON.stringify(r.pattern)).join(", ")}`
    )
  }
  const asked = p.confirm.find((r) => r.regex.test(command))
  return asked !== undefined ? { _tag: "Confirm", rule: ruleName("confirm", asked) } : allow
}

/** Lines a shell will run: each whole line is checked as a command. */
const checkShellInput = (p: EffectivePolicy, data: string, mustEndLine: boolean, secret = false): Verdict => {
  // On a pty, control characters edit the line (backspace, ^U, ^W), recall history (arrow keys)
  // or quote the next key (^V): what runs would not be the text checked.
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(data)) {
    return deny(
      "stdin to a shell (no control characters under a policy)",
      "send plain text lines; to interrupt a command use ssh_signal"
    )
  }
  if (mustEndLine && data !== "" && !data.endsWith("\n") && !data.endsWith("\r")) {
    return deny(
      "stdin to a shell (whole lines only under a policy)",
      "send complete lines ending in \\n, each one a command the policy allows"
    )
  }
  let confirm: Verdict | undefined
  for (const line of data.split(/\r?\n|\r/)) {
    if (line.trim() === "") continue
    if (line.endsWith("\\")) {
      return deny("stdin to a shell (no line continuations under a policy)", "send each command on one line")
    }
    const v = checkText(p, line, secret)
    if (v._tag === "Deny") return v
    if (v._tag === "Confirm") confirm ??= v
  }
  return confirm ?? allow
}

/** Normalize a remote path for prefix rules: relative paths (and `~/…`) are under `~`. */
export const normalizeRemotePath = (p: string): string => {
  const home = p === "~" || p.startsWith("~/")
  const rel = home ? p.slice(1) : p
  const absolute = rel.startsWith("/")
  const parts: Array<string> = []
  for (const seg of rel.split("/")) {
    if (seg === "" || seg === ".") continue
    if (seg === "..") parts.pop()
    else parts.push(seg)
  }
  return absolute && !home ? `/${parts.join("/")}` : `~${parts.length > 0 ? "/" : ""}${parts.join("/")}`
}

const under = (p: string, prefix: string) => p === prefix || p.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)

const checkUpload = (p: EffectivePolicy, remotePath: string): Verdict => {
  const target = normalizeRemotePath(remotePath)
  if (p.readOnly?.value === true) {
    return deny(`read_only of ${p.readOnly.source} (no uploads)`, "this host is read-only")
  }
  // A directory upload writes below its target: a denied path below it is refused too.
  const denied = p.uploadDeny.find((d) => {
    const prefix = normalizeRemotePath(d.value)
    return under(target, prefix) || under(prefix, target)
  })
  if (denied !== undefined) {
    return deny(`upload_deny ${JSON.stringify(denied.value)} of ${denied.source} (remote path ${target})`, ASK_OPERATOR)
  }
  if (p.uploadAllow.length > 0 && !p.uploadAllow.some((a) => under(target, normalizeRemotePath(a.value)))) {
    return deny(
      `upload_allow of ${[...new Set(p.uploadAllow.map((a) => a.source))].join(" ")} (remote path ${target})`,
      `uploads to this host must land under: ${p.uploadAllow.map((a) => a.value).join(", ")}`
    )
  }
  return allow
}

/** The verdict of `p` on `action`; everything is allowed without a policy. */
export const check = (p: EffectivePolicy | undefined, action: PolicyAction): Verdict => {
  if (p === undefined) return allow
  switch (action._tag) {
    case "Command": {
      if (p.readOnly?.value === true && (action.pty === true || (action.envNames ?? []).length > 0)) {
        return deny(
          `read_only of ${p.readOnly.source} (${action.pty === true ? "no pty: pagers run commands" : "no env: LD_PRELOAD, PAGER … change what a command does"})`,
          "run the command without pty and env"
        )
      }
      const v = checkText(p, action.command)
      if (v._tag === "Deny" || action.stdin === undefined || !isShellCommand(action.command)) return v
      const s = checkShellInput(p, action.stdin, false)
      return s._tag === "Allow" ? v : s._tag === "Deny" || v._tag === "Allow" ? s : v
    }
    case "Stdin": {
      if (!isShellCommand(action.jobCommand)) return allow
      const v = checkShellInput(p, action.data, true, action.secret === true)
      if (v._tag === "Confirm" && action.secret === true) {
        return deny(`${v.rule} (secret data cannot be shown to the user for confirmation)`, "send it without secret: true")
      }
      return v
    }
    case "Upload":
      return checkUpload(p, action.remotePath)
    case "Tunnel":
      return p.tunnels?.value === false
        ? deny(`tunnels = false of ${p.tunnels.source}`, "port forwarding is off for this host")
        : allow
  }
}
