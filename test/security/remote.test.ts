/**
 * Attacks on the remote side (issue 13, points 3, 4, 5, 8), against a real sshd:
 * other local users of the host reading a job's secrets from `ps` or its files, a
 * planted `~/bin/sudo` catching the sudo password, and one bad call dropping the
 * connection other jobs share.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailToEnd, tailLines } from "../support/mcp.js"
import { describeWithSshd, type Sshd, waitNoProcess, boxArgs } from "../support/sshd.js"

const token = () => 900_000 + Math.floor(Math.random() * 99_999)
const secret = () => `tok-${randomBytes(12).toString("hex")}`

/** Every argv on the host, as any local user sees it (`ps`, /proc/<pid>/cmdline). */
const allArgv = async (sshd: Sshd) => {
  const ps = await sshd.exec("ps -eo args")
  const proc = await sshd.exec("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done 2>/dev/null")
  return `${ps.stdout}\n${proc.stdout}`
}

describeWithSshd("remote trust: secrets, job files, one bad call", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd

  beforeAll(async () => {
    sshd = getSshd()
    server = await startMcpServer({
      args: [
        ...boxArgs(sshd),
        "--sudo-password-env", "BOX_SUDO_PW", "--default-host", "box"
      ],
      env: { BOX_SUDO_PW: sshd.user.password }
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("never puts env values in a remote argv (plain, sudo and persistent jobs), yet the command sees them", async () => {
    const value = secret()
    const t = token()
    const spawned: Array<string> = []
    for (const extra of [{}, { sudo: true }, { persistent: true }]) {
      const s = await call(server, "ssh_spawn", { command: `sleep ${t}`, env: { API_TOKEN: value }, ...extra })
      expect(s.isError, s.text).toBe(false)
      spawned.push(s.data.job_id as string)
    }
    // Every job's sleep is up (so their launchers have run), then look at every argv on the host.
    for (let i = 0; i < 50; i++) {
      if ((await sshd.exec(`pgrep -c -f "^sleep ${t}$" || true`)).stdout.trim() === "3") break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect((await sshd.exec(`pgrep -c -f "^sleep ${t}$" || true`)).stdout.trim()).toBe("3")
    const argv = await allArgv(sshd)
    expect(argv).toContain(`sleep ${t}`)
    expect(argv).not.toContain(value)
    for (const id of spawned) expect((await call(server, "ssh_remove_job", { job_id: id, force: true })).isError).toBe(false)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")

    // The value still reaches the command, whichever way it runs.
    const plain = await call(server, "ssh_exec", { command: "printf '%s\\n' \"$API_TOKEN\"", env: { API_TOKEN: value } })
    expect(plain.data).toMatchObject({ exit_status: 0, stdout: `${value}\n` })
    const root = await call(server, "ssh_exec", { command: "printf '%s %s\\n' \"$(id -u)\" \"$API_TOKEN\"", env: { API_TOKEN: value }, sudo: true })
    expect(root.data).toMatchObject({ exit_status: 0, stdout: `0 ${value}\n` })
    const odd = "it's \"quoted\" $HOME `x` \\ \n second line"
    const quoted = await call(server, "ssh_exec", { command: "printf '%s' \"$V\"", env: { V: odd } })
    expect(quoted.data).toMatchObject({ exit_status: 0, stdout: odd })
    const p = await call(server, "ssh_spawn", { command: "printf '%s\\n' \"$API_TOKEN\"", env: { API_TOKEN: value }, persistent: true })
    const { lines, last } = await tailToEnd(server, p.data.job_id as string)
    expect(lines.map((l) => l.text)).toEqual([value])
    expect(last).toMatchObject({ status: "exited", exit_status: 0 })
    await call(server, "ssh_remove_job", { job_id: p.data.job_id })
  })

  it("keeps the stdin of an exec and of a job for the command, after the env", async () => {
    const r = await call(server, "ssh_exec", { command: "cat; echo \"[$A]\"", env: { A: "x" }, stdin: "line one\nline two\n" })
    expect(r.data).toMatchObject({ exit_status: 0, stdout: "line one\nline two\n[x]\n" })
    const s = await call(server, "ssh_spawn", { command: "read a; echo \"got $a $B\"", env: { B: "b" } })
    await call(server, "ssh_send_stdin", { job_id: s.data.job_id, data: "hello\n" })
    const { lines } = await tailToEnd(server, s.data.job_id as string)
    expect(lines.map((l) => l.text)).toEqual(["got hello b"])
    const pty = await call(server, "ssh_exec", { command: "echo \"[$S]\"", env: { S: "pty-secret" }, pty: true })
    expect(pty.data.exit_status, pty.text).toBe(0)
    // A terminal echoes its input: the env block must not come back as output.
    expect(pty.data.stdout).toBe("[pty-secret]\r\n")
    const rootPty = await call(server, "ssh_exec", { command: "echo \"[$(id -u) $S]\"", env: { S: "pty-secret" }, pty: true, sudo: true })
    expect(rootPty.data, rootPty.text).toMatchObject({ exit_status: 0, stdout: "[0 pty-secret]\r\n" })
    // stdin data is the command's, NUL bytes included.
    const nul = await call(server, "ssh_exec", { command: "od -An -c | tr -d ' \n'", stdin: "a\u0000b" })
    expect(nul.data, nul.text).toMatchObject({ exit_status: 0, stdout: "a\\0b" })
  })

  it("keeps persistent job files private to the remote user", async () => {
    const t = token()
    const s = await call(server, "ssh_spawn", { command: `echo hi; echo err >&2; sleep ${t}`, persistent: true, label: "private" })
    expect(s.isError, s.text).toBe(false)
    const jobs = `${sshd.user.home}/.cache/mcp-ssh-live/jobs`
    const dir = `${jobs}/${s.data.job_id as string}`
    await sshd.exec(`for i in $(seq 50); do [ -s ${dir}/out ] && break; sleep 0.1; done`)
    const modes = await sshd.exec(`stat -c '%a %n' ${sshd.user.home}/.cache/mcp-ssh-live ${jobs} ${dir} ${dir}/*`)
    expect(modes.code).toBe(0)
    const lines = modes.stdout.trim().split("\n")
    expect(lines.length).toBeGreaterThanOrEqual(9)
    for (const line of lines) {
      const [mode, name] = line.split(" ")
      const isDir = (await sshd.exec(`test -d ${name!}`)).code === 0
      expect(`${mode} ${name}`).toBe(`${isDir ? "700" : "600"} ${name}`)
    }
    // The command itself keeps the user's own umask.
    const u = await call(server, "ssh_spawn", { command: "umask", persistent: true })
    const { lines: umask } = await tailToEnd(server, u.data.job_id as string)
    expect(umask.map((l) => l.text)).toEqual([(await sshd.exec(`su -s /bin/sh -c umask ${sshd.user.name}`)).stdout.trim()])
    await call(server, "ssh_remove_job", { job_id: u.data.job_id })
    await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
  })

  it("refuses an env name that would be shell text, in every tool that takes env: nothing runs on the host", async () => {
    const t = token()
    const mark = `/tmp/env-name-${t}`
    const names = [`X=1;touch ${mark};Y`, `$(touch ${mark})`, "1ABC", "A B", "A-B", ""]
    for (const name of names) {
      for (const [tool, args] of [
        ["ssh_exec", { command: "true" }],
        ["ssh_spawn", { command: "true" }],
        ["ssh_spawn", { command: "true", persistent: true }],
        ["ssh_exec_many", { command: "true", hosts: ["box"] }]
      ] as const) {
        const r = await call(server, tool, { ...args, env: { [name]: "v" } })
        expect(r.isError, `${tool} ${JSON.stringify(name)}: ${r.text}`).toBe(true)
        expect(r.text).toMatch(/^INVALID_ARGUMENT: env: /)
      }
    }
    expect((await sshd.exec(`test -e ${mark}`)).code).not.toBe(0)
  })

  it("takes shell metacharacters in cwd, remote paths and labels as data, never as code", async () => {
    const t = token()
    const mark = `/tmp/meta-mark-${t}`
    const evil = `a'b"c $(touch ${mark}) \`touch ${mark}\` ;touch ${mark}; *x`
    const dir = `/tmp/meta-${t}/${evil}`
    fs.mkdirSync(dir, { recursive: true })
    fs.chmodSync(`/tmp/meta-${t}`, 0o777)
    fs.chmodSync(dir, 0o777)
    try {
      const pwd = await call(server, "ssh_exec", { command: "pwd", cwd: dir })
      expect(pwd.isError, pwd.text).toBe(false)
      expect(pwd.data.stdout).toBe(`${dir}\n`)
      const labelled = await call(server, "ssh_spawn", { command: "echo ok", label: evil, cwd: dir })
      expect(labelled.isError, labelled.text).toBe(false)
      const { last } = await tailToEnd(server, labelled.data.job_id as string)
      expect(last).toMatchObject({ status: "exited", exit_status: 0 })
      // A small file (SFTP) and one of 2 MiB (the tar stream) up and back under the hostile name.
      const local = fs.mkdtempSync(path.join(os.tmpdir(), "meta-"))
      for (const size of [100, 2 * 1024 * 1024]) {
        const data = randomBytes(size)
        fs.writeFileSync(path.join(local, "src"), data)
        const remote = `${dir}/${evil}-${size}`
        const up = await call(server, "ssh_upload", { local_path: path.join(local, "src"), remote_path: remote })
        expect(up.isError, up.text).toBe(false)
        expect(fs.readFileSync(remote).equals(data)).toBe(true)
        const back = path.join(local, `back-${size}`)
        const down = await call(server, "ssh_download", { remote_path: remote, local_path: back })
        expect(down.isError, down.text).toBe(false)
        expect(fs.readFileSync(back).equals(data)).toBe(true)
      }
      fs.rmSync(local, { recursive: true, force: true })
      expect(fs.existsSync(mark)).toBe(false)
    } finally {
      fs.rmSync(`/tmp/meta-${t}`, { recursive: true, force: true })
      fs.rmSync(mark, { force: true })
    }
  })

  it("refuses NUL bytes up front and runs a 300 KB command, without dropping the shared connection", async () => {
    const t = token()
    const s = await call(server, "ssh_spawn", { command: `echo before; sleep ${t}` })
    expect(s.isError, s.text).toBe(false)
    const jobId = s.data.job_id as string

    for (const [args, field] of [
      [{ command: "echo a\u0000b" }, "command"],
      [{ command: "echo ok", env: { A: "x\u0000y" } }, "env"],
      [{ command: "echo ok", cwd: "/tmp\u0000x" }, "cwd"]
    ] as const) {
      const r = await call(server, "ssh_exec", args)
      expect(r.isError, r.text).toBe(true)
      // Refused with the field named, by the tool's input check or by ours.
      expect(r.text).toMatch(new RegExp(`\\b${field}\\b.*NUL`))
      if (r.data.error !== undefined) expect(r.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })
    }
    const sp = await call(server, "ssh_spawn", { command: "echo a\u0000b", persistent: true })
    expect(sp.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })

    const big = await call(server, "ssh_exec", { command: `: ${"x".repeat(300 * 1024)}; echo ok` })
    expect(big.isError, big.text).toBe(false)
    expect(big.data).toMatchObject({ exit_status: 0, stdout: "ok\n" })
    const huge = await call(server, "ssh_exec", { command: `: ${"y".repeat(999_000)}; echo huge` })
    expect(huge.data).toMatchObject({ exit_status: 0, stdout: "huge\n" })
    const bigPersistent = await call(server, "ssh_spawn", { command: `: ${"z".repeat(300 * 1024)}; echo far`, persistent: true })
    expect(bigPersistent.isError, bigPersistent.text).toBe(false)
    const { lines: far } = await tailToEnd(server, bigPersistent.data.job_id as string)
    expect(far.map((l) => l.text)).toEqual(["far"])
    await call(server, "ssh_remove_job", { job_id: bigPersistent.data.job_id })

    // The first job lived through all of it, on the same connection.
    const tail = await call(server, "ssh_tail", { job_id: jobId, wait_ms: 0 })
    expect(tail.data).toMatchObject({ status: "running" })
    expect(tailLines(tail.data).map((l) => l.text)).toEqual(["before"])
    expect((await sshd.exec(`pgrep -f "^sleep ${t}$"`)).stdout.trim()).not.toBe("")
    const removed = await call(server, "ssh_remove_job", { job_id: jobId, force: true })
    expect((removed.data.job as { status: string }).status).toBe("killed")
  })
})

/** A user of its own, so that planting files in its home disturbs no other test. */
const PLANT_USER = "mcpssh_plant"

describeWithSshd("remote trust: a planted ~/bin/sudo", (getSshd) => {
  let server: McpServerProcess
  let sshd: Sshd
  let home: string
  const password = `pw-${randomBytes(12).toString("hex")}`

  beforeAll(async () => {
    sshd = getSshd()
    const u = PLANT_USER
    await sshd.exec(`id -u ${u} >/dev/null 2>&1 || useradd -m -s /bin/bash ${u}`)
    await sshd.exec(`usermod -U -s /bin/bash ${u} && echo '${u}:${password}' | chpasswd`)
    fs.writeFileSync(`/etc/sudoers.d/${u}`, `Defaults:${u} !lecture, timestamp_timeout=0\n${u} ALL=(ALL) ALL\n`, { mode: 0o440 })
    fs.copyFileSync(path.join(sshd.dir, "authorized_keys", sshd.user.name), path.join(sshd.dir, "authorized_keys", u))
    home = (await sshd.exec(`getent passwd ${u} | cut -d: -f6`)).stdout.trim()
    // The attacker (an earlier call of the agent, or anyone with this account) plants a sudo that
    // records what it is given and then runs the command as the user, and puts it first on PATH.
    await sshd.exec([
      `mkdir -p ${home}/bin`,
      `printf '%s\\n' '#!/bin/sh' 'echo "argv: $*" >> "$HOME/fake-sudo.log"' ` +
      `'IFS= read -r pw; echo "stdin: $pw" >> "$HOME/fake-sudo.log"' 'shift 4; exec "$@"' > ${home}/bin/sudo`,
      `chmod 755 ${home}/bin/sudo`,
      `printf '%s\\n' 'export PATH="$HOME/bin:$PATH"' > ${home}/.bashrc`,
      `rm -f ${home}/fake-sudo.log`,
      `chown -R ${u}: ${home}`
    ].join(" && "))
    server = await startMcpServer({
      args: [
        "--known-hosts", sshd.knownHostsPath,
        "--host", `plant=127.0.0.1:${sshd.port}`, "--user", u, "--key", sshd.clientKeyPath,
        "--sudo-password-env", "PLANT_SUDO_PW", "--default-host", "plant"
      ],
      env: { PLANT_SUDO_PW: password }
    })
  })
  afterAll(async () => {
    await server?.close()
    await sshd.exec(`rm -rf ${home}/bin ${home}/.bashrc ${home}/fake-sudo.log`)
    fs.rmSync(`/etc/sudoers.d/${PLANT_USER}`, { force: true })
  })

  it("calls sudo by absolute path, so the planted one never sees the password", async () => {
    // The plant works: the remote shell of an exec channel finds the fake first.
    const which = await call(server, "ssh_exec", { command: "command -v sudo" })
    expect(which.data.stdout).toBe(`${home}/bin/sudo\n`)

    const r = await call(server, "ssh_exec", { command: "id -u", sudo: true })
    expect(r.isError, r.text).toBe(false)
    expect(r.data).toMatchObject({ exit_status: 0, stdout: "0\n" })
    const t = token()
    const s = await call(server, "ssh_spawn", { command: `sleep ${t}`, sudo: true })
    expect(s.isError, s.text).toBe(false)
    await sshd.exec(`for i in $(seq 50); do pgrep -f "^sleep ${t}$" >/dev/null && break; sleep 0.1; done`)
    // Signalling a root job goes through sudo as well (CONT: the group is still there to receive it).
    const signalled = await call(server, "ssh_signal", { job_id: s.data.job_id, signal: "CONT" })
    expect(signalled.data).toMatchObject({ sent_via_pid: true })
    const removed = await call(server, "ssh_remove_job", { job_id: s.data.job_id, force: true })
    expect(removed.isError, removed.text).toBe(false)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const log = await sshd.exec(`cat ${home}/fake-sudo.log 2>/dev/null || true`)
    expect(log.stdout).toBe("")
  })
})
