/**
 * The opt-in policy's pure checks: a host's effective rules (src/domain/policyRules.ts)
 * asked about one action at a time. The `Policy` service (src/services/Policy.ts) finds a
 * host's rules; the MCP tools ask the human when a `confirm` rule matches.
 *
 * A seat belt for the operator, not a sandbox: a rule sees the text of a command, not what
 * the host will make of it.
 *
 * @since 0.2.0
 */
import type { BashParser } from "./bashParser.js"
import { parseLine } from "./commandLine.js"
import type { EffectivePolicy } from "./policyRules.js"
import { readOnlyViolation } from "./readOnly.js"

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
  /** The job reads a terminal (pty, tmux): control characters in the data are keys (see `KeysAction`). */
  readonly terminal?: boolean | undefined
  /** Checked as input to a shell whatever the command (a person's tmux pane). */
  readonly shell?: boolean | undefined
}

/** Named keys sent into a job (`ssh_send_stdin` `keys`): what they do depends on the program, so no rule can judge them. */
export interface KeysAction {
  readonly _tag: "Keys"
  readonly jobCommand: string
  readonly keys: ReadonlyArray<string>
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

export type PolicyAction = CommandAction | StdinAction | KeysAction | UploadAction | TunnelAction

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/

/**
 * Keys into a terminal program cannot be judged (`vim`'s `:!` runs anything): refused under
 * `read_only`; under command rules (allow, deny, confirm) refused unless the host sets
 * `interactive_keys = true`; allowed where no command rule applies.
 */
const checkKeys = (p: EffectivePolicy): Verdict => {
  if (p.readOnly?.value === true) {
    return deny(`read_only of ${p.readOnly.source} (keys into a terminal program: the policy cannot judge them)`, "this host is read-only")
  }
  if (p.allow.length === 0 && p.deny.length === 0 && p.confirm.length === 0) return allow
  if (p.interactiveKeys?.value === true) return allow
  return deny(
    "keys into a terminal program (the policy cannot judge them: vim's :! runs anything; interactive_keys is not set for this host)",
    "send plain text lines to a shell instead; the operator may set interactive_keys = true for this host"
  )
}

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

const quoted = (s: string, max = 80) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s)

/**
 * The checks on one command's text: deny, read_only, allow, confirm, in that order. The
 * line is parsed as bash: `deny` and `confirm` look for a match in the whole text and in
 * each command it runs (as written, and with its words unquoted: `r''m` is `rm`); `allow`
 * wants every command it runs to match a rule in full.
 */
const checkText = (p: EffectivePolicy, parser: BashParser, command: string, secret = false): Verdict => {
  const line = parseLine(parser, command)
  const texts = [command, command.replace(/\\\r?\n/g, ""), ...line.units.flatMap((u) => [u.text, u.normalized])]
  const denied = p.deny.find((r) => texts.some((t) => r.regex.test(t)))
  if (denied !== undefined) return deny(ruleName("deny", denied), ASK_OPERATOR)
  if (p.readOnly?.value === true) {
    const why = readOnlyViolation(parser, command)
    if (why !== undefined) {
      return deny(
        `read_only of ${p.readOnly.source} (${secret ? "secret data" : why})`,
        "only the read-only commands and options listed in docs/CONFIG.md (read_only) run on this host, as plain words: " +
          "no $( ), $'…', redirections but to /dev/null, assignments or builtins that evaluate their arguments"
      )
    }
  }
  if (p.allow.length > 0) {
    const sources = [...new Set(p.allow.map((r) => r.source))].join(" ")
    const hint = `each command of the line must match one of: ${p.allow.map((r) => JSON.stringify(r.pattern)).join(", ")}`
    const notRead = line.unparsed ?? line.hidden ?? (line.comment === undefined ? undefined : `a comment ${quoted(line.comment)}`)
    if (notRead !== undefined) return deny(`allow list of ${sources} (${secret ? "secret data" : notRead})`, hint)
    const unmatched = line.units.find((u) => !p.allow.some((r) => r.regex.matches(u.text)))
    if (unmatched !== undefined) {
      return deny(`allow list of ${sources} (no rule matches ${secret ? "the secret data" : quoted(unmatched.text)})`, hint)
    }
  }
  const asked = p.confirm.find((r) => texts.some((t) => r.regex.test(t)))
  return asked !== undefined ? { _tag: "Confirm", rule: ruleName("confirm", asked) } : allow
}

/** Lines a shell will run: each whole line is checked as a command. */
const checkShellInput = (p: EffectivePolicy, parser: BashParser, data: string, mustEndLine: boolean, secret = false): Verdict => {
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
    const v = checkText(p, parser, line, secret)
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

/** The verdict of `p` on `action`, reading commands with `parser`; everything is allowed without a policy. */
export const check = (p: EffectivePolicy | undefined, action: PolicyAction, parser: BashParser): Verdict => {
  if (p === undefined) return allow
  switch (action._tag) {
    case "Command": {
      if (p.readOnly?.value === true && (action.pty === true || (action.envNames ?? []).length > 0)) {
        return deny(
          `read_only of ${p.readOnly.source} (${action.pty === true ? "no pty: pagers run commands" : "no env: LD_PRELOAD, PAGER … change what a command does"})`,
          "run the command without pty and env"
        )
      }
      const v = checkText(p, parser, action.command)
      if (v._tag === "Deny" || action.stdin === undefined || !isShellCommand(action.command)) return v
      const s = checkShellInput(p, parser, action.stdin, false)
      return s._tag === "Allow" ? v : s._tag === "Deny" || v._tag === "Allow" ? s : v
    }
    case "Keys":
      return checkKeys(p)
    case "Stdin": {
      if (action.terminal === true && CONTROL.test(action.data)) {
        const k = checkKeys(p)
        if (k._tag === "Deny") return k
      }
      if (action.shell !== true && !isShellCommand(action.jobCommand)) return allow
      const v = checkShellInput(p, parser, action.data, true, action.secret === true)
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
