/**
 * Walking around the command policy (issue #23, item 1), against a real sshd whose user's
 * login shell is bash: builtins that evaluate their arguments (`printf -v 'x[$(cmd)]'`),
 * an option's argument taken for the subcommand (`systemctl -p status stop …`), and an
 * `allow` rule that matched the start of a line while the rest ran (`ls; touch …` under
 * `allow = ["ls.*"]`). Each attempt must be refused with `POLICY_DENIED` naming what was
 * not understood, and its side-effect file must never appear on the host. Ordinary
 * read-only commands still run.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, parseErrorText, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd } from "../support/sshd.js"

const token = () => `${process.pid}-${Math.floor(Math.random() * 1e9)}`

const writeConfig = (sshd: Sshd): string => {
  const dir = fs.mkdtempSync(path.join(sshd.dir, "policy-bypass-"))
  const host = (alias: string) =>
    `[hosts.${alias}]\nhost = "${sshd.host}"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\nkey = "${sshd.clientKeyPath}"\n`
  const file = path.join(dir, "config.toml")
  fs.writeFileSync(file, [
    host("ro"),
    "[hosts.ro.policy]\nread_only = true\n",
    host("loose"),
    "[hosts.loose.policy]\nallow = [\"ls.*\", \"echo [a-z ]+\", \"bash\"]\n",
    host("nodeny"),
    "[hosts.nodeny.policy]\ndeny = [\"^touch \"]\n"
  ].join("\n"))
  return file
}

describeWithSshd("policy bypasses (issue #23)", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({ args: ["--known-hosts", sshd.knownHostsPath, "--config", writeConfig(sshd)] })
  })
  afterAll(async () => {
    await server?.close()
  })

  const exists = async (file: string) => (await sshd.exec(`test -e ${file}`)).code === 0

  /** `command` (with FILE standing for a fresh marker path) is refused on `host` and FILE never appears. */
  const refused = async (host: string, command: string, why: RegExp) => {
    const file = `/tmp/pol-bypass-${token()}`
    const r = await call(server, "ssh_exec", { host, command: command.replaceAll("FILE", file) })
    expect(r.isError, `${command} must be refused: ${r.text}`).toBe(true)
    const error = parseErrorText(r.text)
    expect(error?.code, r.text).toBe("POLICY_DENIED")
    expect(error?.message, command).toMatch(why)
    expect(await exists(file), `${file} must not exist after ${command}`).toBe(false)
  }

  it("read_only: a builtin that evaluates an array subscript is refused, and runs nothing", async () => {
    await refused("ro", "printf -v 'x[$(touch FILE)]' 1", /read_only of \[hosts\.ro\.policy\] \(printf: unknown option -v/)
    await refused("ro", "echo ok; printf -v 'x[$(touch FILE)]' 1", /printf: unknown option -v/)
    await refused("ro", "test -v 'a[$(touch FILE)]'", /"test" is not on the read-only list/)
    await refused("ro", "read -a 'a[$(touch FILE)]' <<< x", /read/)
    await refused("ro", "[[ 'x[$(touch FILE)]' -eq 1 ]]", /\[\[/)
  })

  it("read_only: an option's argument is not taken for the subcommand", async () => {
    await refused("ro", "systemctl -p status stop pol-nothing", /systemctl stop/)
    await refused("ro", "systemctl --property status stop pol-nothing", /systemctl stop/)
    await refused("ro", "docker --config ps run --rm x touch FILE", /docker: unknown option --config/)
    await refused("ro", "podman --root ps run --rm x touch FILE", /podman: unknown option --root/)
    await refused("ro", "git -c core.pager='touch FILE' log", /git: unknown option -c/)
  })

  it("read_only: quoting and expansions it cannot prove inert are refused", async () => {
    await refused("ro", "ls $'\\x2d'delete; touch FILE", /\$'…'/)
    await refused("ro", "echo \"$(touch FILE)\"", /command substitution/)
    await refused("ro", "ls $((1)) ; cat <(touch FILE)", /arithmetic expansion/)
    await refused("ro", "cat <(touch FILE)", /process substitution/)
  })

  it("read_only: ordinary read-only commands still run", async () => {
    for (const command of ["ls -la /tmp | head -3", "df -h", "ps aux | grep -c sshd", "uname -a && id", "cat /etc/hostname; echo done"]) {
      const r = await call(server, "ssh_exec", { host: "ro", command })
      expect(r.isError, `${command}: ${r.text}`).toBe(false)
    }
  })

  it("allow: every simple command of the line must match a rule", async () => {
    await refused("loose", "ls; touch FILE", /allow list of \[hosts\.loose\.policy\] \(no rule matches "touch /)
    await refused("loose", "ls && touch FILE", /no rule matches "touch /)
    await refused("loose", "ls | touch FILE", /no rule matches "touch /)
    await refused("loose", "ls $(touch FILE)", /no rule matches "touch /)
    await refused("loose", "ls\ntouch FILE", /no rule matches "touch /)
    await refused("loose", "ls `touch FILE`", /no rule matches "touch /)
    const r = await call(server, "ssh_exec", { host: "loose", command: "ls -la /tmp && echo ok" })
    expect(r.isError, r.text).toBe(false)
  })

  it("allow: stdin lines to a shell job go through the same parse", async () => {
    const shell = await call(server, "ssh_spawn", { host: "loose", command: "bash" })
    expect(shell.isError, shell.text).toBe(false)
    const file = `/tmp/pol-bypass-${token()}`
    const r = await call(server, "ssh_send_stdin", { job_id: shell.data.job_id, data: `ls; touch ${file}\n` })
    expect(parseErrorText(r.text)).toMatchObject({ code: "POLICY_DENIED" })
    await call(server, "ssh_send_stdin", { job_id: shell.data.job_id, data: "ls\n", eof: true })
    await call(server, "ssh_tail", { job_id: shell.data.job_id, wait_ms: 5000, min_lines: 1000 })
    expect(await exists(file)).toBe(false)
  })

  it("deny: a rule matching one simple command refuses the line, however it is quoted", async () => {
    await refused("nodeny", "echo ok; touch FILE", /deny rule "\^touch " of \[hosts\.nodeny\.policy\] matched/)
    await refused("nodeny", "echo $(touch FILE)", /deny rule "\^touch "/)
    await refused("nodeny", "echo ok && t''ouch FILE", /deny rule "\^touch "/)
    await refused("nodeny", "echo ok && \"touch\"  FILE", /deny rule "\^touch "/)
  })
})
