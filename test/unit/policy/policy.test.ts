import { beforeAll, describe, expect, it } from "vitest"
import { type BashParser, loadBashParser } from "../../../src/domain/bashParser.js"
import { check as checkWith, isShellCommand, normalizeRemotePath, type PolicyAction } from "../../../src/domain/policy.js"
import {
  combine,
  type CompiledRules,
  compileRules,
  describePolicy,
  type EffectivePolicy,
  isRuleError,
  type PolicyRules
} from "../../../src/domain/policyRules.js"

let parser: BashParser
beforeAll(async () => {
  parser = await loadBashParser()
})
const check = (p: EffectivePolicy | undefined, action: PolicyAction) => checkWith(p, action, parser)

const compiled = (rules: PolicyRules, source = "[policy]"): CompiledRules => {
  const c = compileRules(rules, source)
  if (isRuleError(c)) throw new Error(c.message)
  return c
}
const policy = (global: PolicyRules | undefined, host?: PolicyRules): EffectivePolicy | undefined =>
  combine(global === undefined ? undefined : compiled(global), host === undefined ? undefined : compiled(host, "[hosts.web1.policy]"))
const run = (command: string, extra: Partial<Omit<Extract<PolicyAction, { _tag: "Command" }>, "_tag">> = {}): PolicyAction =>
  ({ _tag: "Command", command, ...extra })
const stdin = (jobCommand: string, data: string, secret = false): PolicyAction => ({ _tag: "Stdin", jobCommand, data, secret })
const upload = (remotePath: string): PolicyAction => ({ _tag: "Upload", remotePath })

describe("policy rules", () => {
  it("layers global, group and host tables: refusals add up, the last table that sets a switch or allow list wins", () => {
    const p = combine(
      compiled({ deny: ["a"], readOnly: true, tunnels: false }),
      compiled({ deny: ["b"], allow: ["ls.*"], tunnels: true }, "[group_policy.web]"),
      undefined,
      compiled({ confirm: ["c"], readOnly: false }, "[hosts.web1.policy]")
    )!
    expect(describePolicy(p)).toEqual({ read_only: false, allow: ["ls.*"], deny: ["a", "b"], confirm: ["c"], tunnels: true })
    expect(check(p, run("ls b"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("[group_policy.web]") })
    expect(check(p, { _tag: "Tunnel" })).toEqual({ _tag: "Allow" })
    expect(combine(undefined, undefined)).toBeUndefined()
  })

  it("is off without rules: everything allowed", () => {
    expect(policy(undefined)).toBeUndefined()
    expect(policy({})).toBeUndefined()
    expect(check(undefined, run("rm -rf /"))).toEqual({ _tag: "Allow" })
  })

  it("refuses an invalid regex naming the key", () => {
    const r = compileRules({ deny: ["ok", "(unclosed"] }, "[policy]")
    expect(isRuleError(r) && r.key).toBe("deny[1]")
    const look = compileRules({ confirm: ["(?=x)"] }, "[policy]")
    expect(isRuleError(look) && look.key).toBe("confirm[0]")
  })

  it("deny: a match anywhere refuses, naming the rule and its table", () => {
    const p = policy({ deny: ["rm\\s+-rf"] })
    expect(check(p, run("cd /tmp && rm  -rf x"))).toMatchObject({ _tag: "Deny", rule: "deny rule \"rm\\\\s+-rf\" of [policy] matched" })
    expect(check(p, run("ls"))).toEqual({ _tag: "Allow" })
  })

  it("allow: the whole command must match one rule", () => {
    const p = policy({ allow: ["ls( -l)?", "systemctl status [a-z-]+"] })
    expect(check(p, run("ls -l"))._tag).toBe("Allow")
    expect(check(p, run("systemctl status nginx"))._tag).toBe("Allow")
    expect(check(p, run("ls -l; rm x"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("allow list of [policy]") })
    expect(check(p, run("ls -l\nrm x"))._tag).toBe("Deny")
    expect(check(p, run("xls"))._tag).toBe("Deny")
  })

  it("allow: every command the line runs must match a rule, wherever it is in the line", () => {
    const p = policy({ allow: ["ls.*", "grep [a-z]+", "echo [a-z ]*"] })
    for (const ok of ["ls -la | grep foo", "ls && echo ok; echo done", "ls $(echo x)", "ls\necho ok", "ls &", "ls '$(x) `y` <(z)'",
      "ls `echo x` <(echo y)"]) {
      expect(check(p, run(ok))._tag, ok).toBe("Allow")
    }
    const refused: ReadonlyArray<[string, string]> = [
      ["ls; rm -rf ~", "(no rule matches \"rm -rf ~\")"],
      ["ls && rm x", "\"rm x\""],
      ["ls || rm x", "\"rm x\""],
      ["ls | sh", "\"sh\""],
      ["ls $(rm x)", "\"rm x\""],
      ["ls \"$(rm x)\"", "\"rm x\""],
      ["ls `rm x`", "\"rm x\""],
      ["ls <(rm x)", "\"rm x\""],
      ["ls\nrm x", "\"rm x\""],
      ["(rm x)", "\"rm x\""],
      ["{ rm x; }", "\"rm x\""],
      ["if ls; then rm x; fi", "\"rm x\""],
      ["f() { rm x; }", "\"rm x\""],
      ["X=1 ls", "\"X=1 ls\""],
      ["x=$(ls)", "\"x=$(ls)\""],
      ["{ ls; } > /etc/passwd", "\"{ ls; } > /etc/passwd\""],
      ["[[ -v 'x[$(ls)]' ]]", "[[ -v"],
      ["ls # ; rm x", "a comment"],
      ["ls 'unterminated", "bash cannot parse it"],
      ["ls \\\nrm x", "a line continuation"],
      // Substitutions tree-sitter reads as text, where bash runs them.
      ["ls ${x:-`rm x`}", "(a substitution the parser read as text)"],
      ["ls <<-EOF\n\t`rm x`\n\tEOF\n", "a substitution the parser read as text"],
      ["ls `echo \\`rm x\\``", "a substitution the parser read as text"],
      ["ls \\$(rm x)", "bash cannot parse it"]
    ]
    for (const [command, names] of refused) {
      const v = check(p, run(command))
      expect(v, command).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("allow list of [policy]") })
      expect(v._tag === "Deny" && v.rule, command).toContain(names)
    }
    // A command's text holds its redirections: a rule that admits any text admits them too.
    expect(check(p, run("ls > /etc/passwd"))._tag).toBe("Allow")
    const tight = policy({ allow: ["ls( [-a-z/]+)*"] })
    expect(check(tight, run("ls -la /tmp"))._tag).toBe("Allow")
    expect(check(tight, run("ls > /etc/passwd"))).toMatchObject({ rule: expect.stringContaining("\"ls > /etc/passwd\"") })
  })

  it("deny: a rule found in any command of the line refuses it, written as it is or with its words unquoted", () => {
    const p = policy({ deny: ["^rm -rf", "^reboot$"] })
    for (const command of ["echo ok; rm -rf /tmp/x", "echo $(rm -rf /tmp/x)", "r''m -rf /tmp/x", "\"rm\"  -rf /tmp/x", "\\rm -rf x",
      "echo ok && reboot", "r\\\nm -rf x", "if true; then reboot; fi"]) {
      expect(check(p, run(command)), command).toMatchObject({ _tag: "Deny", rule: expect.stringMatching(/^deny rule/) })
    }
    expect(check(p, run("echo rm -rf"))._tag).toBe("Allow")
    // A line bash cannot parse is still checked as text.
    expect(check(p, run("rm -rf x 'unterminated"))._tag).toBe("Deny")
    expect(check(p, run("echo 'unterminated"))._tag).toBe("Allow")
  })

  it("parses lines of up to 16 KiB: a longer one is refused by allow and read_only, searched as text by deny", () => {
    const long = `echo ${"x".repeat(16 * 1024)}`
    expect(check(policy({ readOnly: true }), run(long))).toMatchObject({ rule: expect.stringContaining(`a line of ${long.length} characters`) })
    expect(check(policy({ allow: ["echo .*"] }), run(long))).toMatchObject({ rule: expect.stringContaining("a line of") })
    expect(check(policy({ deny: ["rm -rf"] }), run(long))._tag).toBe("Allow")
    expect(check(policy({ deny: ["rm -rf"] }), run(`${long}; rm -rf x`))._tag).toBe("Deny")
    expect(check(policy({ allow: ["echo .*"] }), run(long.slice(0, 16 * 1024)))._tag).toBe("Allow")
  })

  it("confirm: a rule found in any command of the line asks", () => {
    const p = policy({ confirm: ["^reboot"] })
    expect(check(p, run("echo ok; reboot"))._tag).toBe("Confirm")
    expect(check(p, run("echo $(reboot)"))._tag).toBe("Confirm")
    expect(check(p, run("echo reboot"))._tag).toBe("Allow")
  })

  it("confirm: a match asks, naming the rule; deny wins over confirm", () => {
    const p = policy({ confirm: ["^systemctl restart"], deny: ["sshd"] })
    expect(check(p, run("systemctl restart nginx"))).toEqual({
      _tag: "Confirm",
      rule: "confirm rule \"^systemctl restart\" of [policy] matched"
    })
    expect(check(p, run("systemctl restart sshd"))._tag).toBe("Deny")
  })

  it("read_only: the list, and no env or pty", () => {
    const p = policy({ readOnly: true })
    expect(check(p, run("df -h"))._tag).toBe("Allow")
    expect(check(p, run("ls; rm x"))).toMatchObject({ _tag: "Deny", rule: "read_only of [policy] (\"rm\" is not on the read-only list)" })
    expect(check(p, run("ls", { envNames: ["LD_PRELOAD"] }))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("no env") })
    expect(check(p, run("journalctl -u x", { pty: true }))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("no pty") })
    expect(check(p, upload("/tmp/x"))).toMatchObject({ _tag: "Deny", rule: "read_only of [policy] (no uploads)" })
  })

  it("combines host and global rules: refusing lists add up, the host's allow and switches replace the global ones", () => {
    const p = policy(
      { deny: ["reboot"], confirm: ["restart"], allow: ["ls"], readOnly: true, tunnels: false, uploadDeny: ["/etc"] },
      { deny: ["shutdown"], allow: ["ls", "deploy .*"], readOnly: false, uploadDeny: ["/root"] }
    )!
    expect(check(p, run("reboot"))).toMatchObject({ rule: expect.stringContaining("of [policy]") })
    expect(check(p, run("shutdown -h now"))).toMatchObject({ rule: expect.stringContaining("of [hosts.web1.policy]") })
    expect(check(p, run("deploy app"))._tag).toBe("Allow")
    expect(check(p, run("deploy restart"))._tag).toBe("Confirm")
    expect(check(p, upload("/etc/x"))._tag).toBe("Deny")
    expect(check(p, upload("/root/x"))._tag).toBe("Deny")
    expect(check(p, { _tag: "Tunnel" })).toMatchObject({ _tag: "Deny", rule: "tunnels = false of [policy]" })
    expect(describePolicy(p)).toEqual({
      read_only: false,
      allow: ["ls", "deploy .*"],
      deny: ["reboot", "shutdown"],
      confirm: ["restart"],
      upload_deny: ["/etc", "/root"],
      tunnels: false
    })
    // A host that sets nothing gets the global rules.
    expect(check(policy({ readOnly: true }, {}), run("rm x"))._tag).toBe("Deny")
  })

  it("tunnels are allowed unless a table says tunnels = false", () => {
    expect(check(policy({ deny: ["x"] }), { _tag: "Tunnel" })._tag).toBe("Allow")
    expect(check(policy({ tunnels: false }, { tunnels: true }), { _tag: "Tunnel" })._tag).toBe("Allow")
    expect(check(policy({}, { tunnels: false }), { _tag: "Tunnel" })).toMatchObject({ rule: "tunnels = false of [hosts.web1.policy]" })
  })
})

describe("stdin to a shell", () => {
  const p = policy({ deny: ["rm -rf"], confirm: ["reboot"] })

  it("knows shells and what runs one", () => {
    for (const c of ["bash", "sh", "/bin/bash -l", "zsh -i", "/usr/bin/fish", "sudo bash", "sudo -i", "sudo -s", "su -", "docker exec -it web sh", "env -i bash --norc", "ssh other", "busybox sh"]) {
      expect(isShellCommand(c), c).toBe(true)
    }
    for (const c of ["cat", "python3 app.py", "tail -f /var/log/syslog", "sudo apt-get update", "grep -r x ."]) {
      expect(isShellCommand(c), c).toBe(false)
    }
  })

  it("checks each line a shell job is given; not a non-shell job's", () => {
    expect(check(p, stdin("bash", "ls\nrm -rf /tmp/x\n"))._tag).toBe("Deny")
    expect(check(p, stdin("bash", "ls\n"))._tag).toBe("Allow")
    expect(check(p, stdin("bash", "reboot\n"))._tag).toBe("Confirm")
    expect(check(p, stdin("cat", "rm -rf /tmp/x\n"))._tag).toBe("Allow")
  })

  it("reads each line a shell job is given with the same parse as a command", () => {
    const strict = policy({ allow: ["ls.*", "echo [a-z]+"] })
    expect(check(strict, stdin("bash", "ls\necho ok\n"))._tag).toBe("Allow")
    expect(check(strict, stdin("bash", "ls; rm x\n"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("\"rm x\"") })
    expect(check(strict, stdin("bash", "ls $(rm x)\n"))._tag).toBe("Deny")
    const ro = policy({ readOnly: true })
    expect(check(ro, stdin("bash", "printf -v 'x[$(id)]' 1\n"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("printf: unknown option -v") })
    expect(check(ro, stdin("bash", "df -h\n"))._tag).toBe("Allow")
  })

  it("refuses partial lines and line continuations (a command split across sends)", () => {
    expect(check(p, stdin("bash", "rm -r"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("whole lines") })
    expect(check(p, stdin("bash", "rm -r\\\nf /\n"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("continuation") })
    expect(check(p, stdin("bash", ""))._tag).toBe("Allow")
    expect(check(p, stdin("bash", "ls\r"))._tag).toBe("Allow")
  })

  it("refuses control characters: on a pty they edit the line or recall history", () => {
    expect(check(p, stdin("bash", "rm -xx\x7f\x7frf /tmp/x\n"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("control characters") })
    expect(check(p, stdin("bash", "\x1b[A\n"))._tag).toBe("Deny")
    expect(check(p, stdin("bash", "rm -r\x16f\n"))._tag).toBe("Deny")
    expect(check(p, stdin("bash", "echo\tok\n"))._tag).toBe("Allow")
  })

  it("never shows secret data to the user, nor puts it in a refusal", () => {
    expect(check(p, stdin("bash", "reboot\n", true))._tag).toBe("Deny")
    const ro = policy({ readOnly: true })
    const v = check(ro, stdin("grep bash /etc/passwd", "hunter2\n", true))
    expect(v._tag).toBe("Deny")
    expect(JSON.stringify(v)).not.toContain("hunter2")
  })

  it("checks ssh_exec's stdin when the command is a shell", () => {
    expect(check(p, run("bash -s", { stdin: "rm -rf /tmp/x" }))._tag).toBe("Deny")
    expect(check(p, run("sh", { stdin: "reboot" }))._tag).toBe("Confirm")
    expect(check(p, run("cat", { stdin: "rm -rf /tmp/x" }))._tag).toBe("Allow")
  })
})

describe("upload paths", () => {
  it("normalizes remote paths: relative ones are under ~, .. resolved", () => {
    expect(normalizeRemotePath("/tmp/../etc/passwd")).toBe("/etc/passwd")
    expect(normalizeRemotePath("app/config.yml")).toBe("~/app/config.yml")
    expect(normalizeRemotePath("~/app//x")).toBe("~/app/x")
    expect(normalizeRemotePath("./x")).toBe("~/x")
  })

  it("upload_allow: under one prefix; upload_deny: not under, nor above, a denied prefix", () => {
    const p = policy({ uploadAllow: ["/srv/app", "~/drop"], uploadDeny: ["/srv/app/secrets"] })
    expect(check(p, upload("/srv/app/release.tgz"))._tag).toBe("Allow")
    expect(check(p, upload("drop/file"))._tag).toBe("Allow")
    expect(check(p, upload("/srv/application"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("upload_allow") })
    expect(check(p, upload("/srv/app/../../etc/passwd"))).toMatchObject({ _tag: "Deny", rule: expect.stringContaining("/etc/passwd") })
    expect(check(p, upload("/srv/app/secrets/key"))).toMatchObject({ rule: expect.stringContaining("upload_deny \"/srv/app/secrets\"") })
    // A directory uploaded to /srv/app could write /srv/app/secrets/…
    expect(check(p, upload("/srv/app"))).toMatchObject({ rule: expect.stringContaining("upload_deny") })
  })
})
