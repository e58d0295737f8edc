/**
 * sudo redirected by the host account's shell (issue 23, item 4). sshd runs our launcher
 * with the account's login shell, and bash reads ~/.bashrc first: a *function* named
 * `/usr/bin/sudo` defined there is run even when sudo is called by absolute path, and
 * receives the sudo password we write. The launcher now runs sudo with `exec` in POSIX
 * mode (`exec` skips functions; POSIX mode finds the special builtin `exec` before a
 * function of that name), which stops this plant and one that also redefines `exec`.
 * It cannot stop every plant (`enable -n exec`, a readonly POSIXLY_CORRECT, a DEBUG trap,
 * an rc file that execs another shell): docs/SECURITY.md says so.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer } from "../support/mcp.js"
import { describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"

/** A user of its own, so that its ~/.bashrc disturbs no other test. */
const USER = "mcpssh_rcfn"

describeWithSshd("remote trust: sudo shadowed by functions in ~/.bashrc", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let home: string
  const password = `pw-${randomBytes(12).toString("hex")}`

  beforeAll(async () => {
    sshd = getSshd()
    await sshd.exec(`id -u ${USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${USER}`)
    await sshd.exec(`usermod -U -s /bin/bash ${USER} && echo '${USER}:${password}' | chpasswd`)
    fs.writeFileSync(`/etc/sudoers.d/${USER}`, `Defaults:${USER} !lecture, timestamp_timeout=0\n${USER} ALL=(ALL) ALL\n`, { mode: 0o440 })
    fs.copyFileSync(path.join(sshd.dir, "authorized_keys", sshd.user.name), path.join(sshd.dir, "authorized_keys", USER))
    home = (await sshd.exec(`getent passwd ${USER} | cut -d: -f6`)).stdout.trim()
    // Functions named like every sudo we look for: each shows sudo's prompt (its -p argument),
    // records the password written to it, and runs the command as the user. And an `exec`
    // that runs its arguments as a command, so that functions apply to them again.
    const rc = [
      "for p in /usr/bin/sudo /bin/sudo /usr/sbin/sudo /usr/local/bin/sudo; do",
      `  eval "function $p { printf '%s' \\"\\$3\\" >&2; IFS= read -r pw; echo \\"stdin: \\$pw\\" >> \\"\\$HOME/fake-sudo.log\\"; shift 4; \\"\\$@\\"; }"`,
      "done",
      `function exec { echo "exec: $*" >> "$HOME/fake-sudo.log"; "$@"; }`,
      ""
    ].join("\n")
    fs.writeFileSync(path.join(home, ".bashrc"), rc)
    await sshd.exec(`rm -f ${home}/fake-sudo.log && chown -R ${USER}: ${home}`)
    server = await startMcpServer({
      args: [
        "--known-hosts", sshd.knownHostsPath,
        "--host", `rcfn=127.0.0.1:${sshd.port}`, "--user", USER, "--key", sshd.clientKeyPath,
        "--sudo-password-env", "RCFN_SUDO_PW", "--default-host", "rcfn"
      ],
      env: { RCFN_SUDO_PW: password }
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd.exec(`rm -f ${home}/.bashrc ${home}/fake-sudo.log`)
    fs.rmSync(`/etc/sudoers.d/${USER}`, { force: true })
  })

  it("runs the real sudo, so the functions never see the password", async () => {
    // The plant works: the shell of an exec channel has the functions.
    const planted = await call(server, "ssh_exec", { command: "type -t /usr/bin/sudo /bin/sudo exec" })
    expect(planted.data.stdout).toBe("function\nfunction\nfunction\n")

    const r = await call(server, "ssh_exec", { command: "id -u", sudo: true })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
    const t = 900_000 + Math.floor(Math.random() * 99_999)
    const s = await call(server, "ssh_spawn", { command: `sleep ${t}`, sudo: true })
    expect(s.isError, s.text).toBe(false)
    await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t}$" >/dev/null && break; sleep 0.1; done`)
    // Signalling a root job goes through sudo as well.
    const signalled = await call(server, "ssh_signal", { job_id: s.data.job_id, signal: "CONT" })
    expect(signalled.isError, signalled.text).toBe(false)
    const removed = await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
    expect(removed.isError, removed.text).toBe(false)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const log = await sshd.exec(`cat ${home}/fake-sudo.log 2>/dev/null || true`)
    expect(log.stdout).toBe("")
  })
})
