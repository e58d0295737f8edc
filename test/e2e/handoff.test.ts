/**
 * Hand-off (docs/TOOLS.md) against a real sshd with tmux, through the SDK 1.x client (which
 * checks every result against the published outputSchema): a job a person attaches to
 * (their side is a second tmux client: `send-keys`, `capture-pane`), kept across a
 * restart of this server; a person's pane the agent follows; terminal programs (`top`,
 * `vim`) driven through ssh_screen and named keys; TMUX_UNAVAILABLE on a host without tmux.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { call, type McpServerProcess, startMcpServer, tailToEnd, type TailLine } from "../support/mcp.js"
import { boxArgs, describeWithSshd, type Sshd, waitNoProcess } from "../support/sshd.js"
import { until } from "../support/poll.js"
import { expectStrangerSpared, startStranger } from "../support/recycledPid.js"

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

/** Poll `probe` until it holds (the remote side moves on its own time). */

/** A person at the host, as the test user: a tmux client of their own. */
const personOf = (sshd: Sshd) => (command: string) => sshd.exec(`su - ${sshd.user.name} -c ${q(command)}`)

interface Screen {
  readonly version: number
  readonly size: string
  readonly cursor: { readonly row: number; readonly col: number }
  readonly screen: string | null
  readonly changed: Record<string, string> | null
}

describeWithSshd("hand-off: jobs in tmux, followed panes, terminal programs", (getSshd) => {
  let sshd: Sshd
  let server: McpServerProcess
  let person: (command: string) => Promise<{ stdout: string; stderr: string; code: number }>

  beforeAll(async () => {
    sshd = getSshd()
    person = personOf(sshd)
    server = await startMcpServer({ client: "v1", args: boxArgs(sshd) })
  })
  afterAll(async () => {
    await server?.close()
    await person?.(`tmux -L mcp-ssh-live kill-server 2>/dev/null; true`)
  })

  const screenOf = async (jobId: string, since?: number): Promise<Screen> => {
    const r = await call(server, "ssh_screen", since === undefined ? { job_id: jobId } : { job_id: jobId, since_version: since })
    expect(r.isError, r.text).toBe(false)
    return r.data as unknown as Screen
  }
  const screenShows = (jobId: string, text: string | RegExp, ms?: number) =>
    until(`the screen to show ${String(text)}`, async () => {
      const s = await screenOf(jobId)
      return (typeof text === "string" ? s.screen?.includes(text) : text.test(s.screen ?? "")) === true ? s : undefined
    }, ms)

  it("runs a job in tmux that a person attaches to and takes over; the agent sees what they type and the exit status", async () => {
    const spawned = await call(server, "ssh_spawn", {
      command: "echo started; printf 'Your name? '; read name; echo \"hello $name\"; printf 'Again? '; read x; echo \"bye $x\"; exit 3",
      tmux: true,
      label: "handoff"
    })
    expect(spawned.isError, spawned.text).toBe(false)
    const jobId = spawned.data.job_id as string
    const session = `mcp-${jobId}`
    expect(spawned.data).toMatchObject({ status: "running", persistent: true, label: "handoff" })
    // What a person runs, in terms of their own ssh: the port, user@address, our socket, the session.
    expect(spawned.data.attach).toBe(`ssh -t -p ${sshd.port} ${sshd.user.name}@127.0.0.1 tmux -L mcp-ssh-live attach -t ${session}`)
    expect(spawned.data.view_url).toBeUndefined()

    // The prompt reaches the agent (tmux merges stdout and stderr: all of it is stdout).
    const first = await call(server, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 10_000, until: "Your name" })
    expect(first.data.awaiting_input || (first.data.partial as string).includes("Your name?")).toBe(true)
    const waited = await call(server, "ssh_tail", { format: "lines", job_id: jobId, since_line_no: first.data.next_line_no, wait_ms: 5_000 })
    expect(waited.data).toMatchObject({ awaiting_input: true, prompt: "Your name? " })

    // The person, in a second tmux client, sees the same screen and answers.
    const seen = await person(`tmux -L mcp-ssh-live capture-pane -p -t ${session}`)
    expect(seen.stdout).toContain("Your name?")
    await person(`tmux -L mcp-ssh-live send-keys -t ${session} 'Ada Lovelace' Enter`)
    const after = await call(server, "ssh_tail", { format: "lines", job_id: jobId, since_line_no: first.data.next_line_no, wait_ms: 10_000, until: "hello" })
    expect((after.data.lines as Array<TailLine>).map((l) => l.text)).toContain("hello Ada Lovelace")
    expect((after.data.lines as Array<TailLine>).every((l) => l.stream === "stdout")).toBe(true)

    // The agent answers the next prompt; the person sees it on their screen.
    await until("the second prompt", async () => ((await screenOf(jobId)).screen?.includes("Again?") ? true : undefined))
    const sent = await call(server, "ssh_send_stdin", { job_id: jobId, data: "from the agent\n" })
    expect(sent.isError, sent.text).toBe(false)
    const done = await tailToEnd(server, jobId)
    expect(done.lines.map((l) => l.text)).toContain("bye from the agent")
    expect(done.last).toMatchObject({ status: "exited", exit_status: 3 })
    const personScreen = await person(`tmux -L mcp-ssh-live capture-pane -p -t ${session}`)
    expect(personScreen.stdout).toContain("bye from the agent")
    // The session stays (its last screen) until the job is removed.
    expect((await person(`tmux -L mcp-ssh-live has-session -t ${session} && echo yes`)).stdout.trim()).toBe("yes")
    const listed = await call(server, "ssh_list_jobs", {})
    const record = (listed.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId)
    expect(record).toMatchObject({ status: "exited", exit_status: 3, attach: spawned.data.attach })
    const removed = await call(server, "ssh_remove_job", { job_id: jobId })
    expect(removed.isError, removed.text).toBe(false)
    expect((await person(`tmux -L mcp-ssh-live has-session -t ${session} 2>/dev/null || echo gone`)).stdout.trim()).toBe("gone")
    expect((await sshd.exec(`ls -A ~${sshd.user.name}/.cache/mcp-ssh-live/tmux/`)).stdout).not.toContain(jobId)
  }, 90_000)

  it("types keys into a tmux job through tmux, and its screen is tmux's own", async () => {
    const file = `/tmp/mcpssh-handoff-${randomBytes(4).toString("hex")}.txt`
    const spawned = await call(server, "ssh_spawn", { command: `vim -N -u NONE -i NONE -n ${file}`, tmux: true })
    const jobId = spawned.data.job_id as string
    const s0 = await screenShows(jobId, /^~/m)
    expect(s0.size).toBe("120x40")
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "ifirst line\nsecond line" })
    await screenShows(jobId, "-- INSERT --")
    // Up, then End: the cursor key names go through tmux, which sends what vim asked for.
    await call(server, "ssh_send_stdin", { job_id: jobId, keys: ["Up", "End"] })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: " (edited)", keys: ["Esc"] })
    await screenShows(jobId, "first line (edited)")
    await call(server, "ssh_send_stdin", { job_id: jobId, data: ":wq", keys: ["Enter"] })
    const done = await tailToEnd(server, jobId)
    expect(done.last).toMatchObject({ status: "exited", exit_status: 0 })
    expect((await sshd.exec(`cat ${file}; rm -f ${file}`)).stdout).toBe("first line (edited)\nsecond line\n")
    await call(server, "ssh_remove_job", { job_id: jobId })
  }, 60_000)

  it("follows a person's pane read-only, shows its screen, and types into it only when asked", async () => {
    const name = `person-${randomBytes(3).toString("hex")}`
    await person(`tmux new-session -d -s ${name} -x 100 -y 30 'PS1="person$ " bash --norc -i'`)
    try {
      const panes = await call(server, "ssh_list_panes", {})
      expect(panes.isError, panes.text).toBe(false)
      const pane = (panes.data.panes as Array<Record<string, unknown>>).find((p) => String(p.target).startsWith(`${name}:`))
      expect(pane).toMatchObject({ command: "bash", size: "100x30", attached: false })
      const followed = await call(server, "ssh_follow_pane", { target: pane!.target, label: "the person's shell" })
      expect(followed.isError, followed.text).toBe(false)
      const jobId = followed.data.job_id as string
      expect(followed.data).toMatchObject({ status: "running", persistent: false })
      expect(followed.data.attach).toBeUndefined()

      // What the person types and what their programs print reach the agent.
      await person(`tmux send-keys -t ${name} 'echo typed-by-the-person' Enter`)
      const t = await call(server, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 10_000, until: "^typed-by-the-person" })
      expect(t.data.matched).toMatchObject({ text: expect.stringContaining("typed-by-the-person") })
      const s = await screenShows(jobId, "typed-by-the-person")
      expect(s.size).toBe("100x30")
      expect(s.screen).toContain("person$ ")

      // Following typed nothing: the person's screen holds only their own line.
      const before = await person(`tmux capture-pane -p -t ${name}`)
      expect(before.stdout).not.toContain("from-the-agent")
      // Signals are not ours to send to a person's processes.
      const sig = await call(server, "ssh_signal", { job_id: jobId, signal: "INT" })
      expect(sig.data.error).toMatchObject({ code: "INVALID_ARGUMENT" })

      // An explicit call types into the pane.
      const sent = await call(server, "ssh_send_stdin", { job_id: jobId, data: "echo from-the-agent\n" })
      expect(sent.isError, sent.text).toBe(false)
      await until("the person to see it", async () =>
        (await person(`tmux capture-pane -p -t ${name}`)).stdout.includes("\nfrom-the-agent") ? true : undefined)
      const changed = await screenOf(jobId, s.version)
      expect(changed.screen).toBeNull()
      expect(Object.values(changed.changed ?? {}).some((row) => row.includes("from-the-agent"))).toBe(true)

      // Removing the job stops following (no force needed); the pane is the person's and stays.
      const removed = await call(server, "ssh_remove_job", { job_id: jobId })
      expect(removed.isError, removed.text).toBe(false)
      const after = await person(`tmux display-message -p -t ${name} '#{pane_pipe} #{pane_dead}'`)
      expect(after.stdout.trim()).toBe("0 0")
    } finally {
      await person(`tmux kill-session -t ${name} 2>/dev/null; true`)
    }
  }, 60_000)

  it("drives top through its screen: rendered by the emulator, keys change what it shows", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "top -d 1", pty: true })
    const jobId = spawned.data.job_id as string
    const s = await screenShows(jobId, /load average/)
    expect(s.size).toBe("200x40")
    expect(s.screen).toMatch(/^\s*PID\s+USER\b/m)
    expect(s.screen).toMatch(/^(?:Tasks|Threads):/m)
    // h: top's help screen.
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "h" })
    await screenShows(jobId, /Help for Interactive Commands/)
    await call(server, "ssh_send_stdin", { job_id: jobId, keys: ["Esc"] })
    await screenShows(jobId, /^\s*PID\s+USER\b/m)
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "q" })
    const done = await tailToEnd(server, jobId)
    expect(done.last).toMatchObject({ status: "exited", exit_status: 0 })
  }, 60_000)

  it("edits a file with vim in a pty job: insert mode, arrow keys in vim's mode, only changed rows since a version", async () => {
    const file = `/tmp/mcpssh-vim-${randomBytes(4).toString("hex")}.txt`
    await sshd.exec(`printf 'alpha\\nbeta\\ngamma\\n' > ${file} && chown ${sshd.user.name} ${file}`)
    const spawned = await call(server, "ssh_spawn", { command: `vim -N -u NONE -i NONE -n ${file}`, pty: true })
    const jobId = spawned.data.job_id as string
    const opened = await screenShows(jobId, "gamma")
    expect(opened.screen!.split("\n").slice(0, 3)).toEqual(["alpha", "beta", "gamma"])
    expect(opened.cursor).toEqual({ row: 0, col: 0 })
    // Down twice, End, then append: vim puts the terminal in application cursor mode.
    await call(server, "ssh_send_stdin", { job_id: jobId, keys: ["Down", "Down", "End"] })
    const moved = await until("the cursor on row 2", async () => {
      const s = await screenOf(jobId)
      return s.cursor.row === 2 ? s : undefined
    })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: "a!" })
    const edited = await screenShows(jobId, "gamma!")
    expect(edited.screen).toContain("-- INSERT --")
    const delta = await screenOf(jobId, moved.version)
    expect(delta.screen).toBeNull()
    expect(delta.changed?.["2"]).toBe("gamma!")
    expect(delta.changed?.["0"]).toBeUndefined()
    await call(server, "ssh_send_stdin", { job_id: jobId, keys: ["Esc"], data: "" })
    await call(server, "ssh_send_stdin", { job_id: jobId, data: ":wq\r" })
    const done = await tailToEnd(server, jobId)
    expect(done.last).toMatchObject({ status: "exited", exit_status: 0 })
    expect((await sshd.exec(`cat ${file}; rm -f ${file}`)).stdout).toBe("alpha\nbeta\ngamma!\n")
  }, 60_000)

  it("refuses unknown key names naming the field, and a screen for a job without a terminal", async () => {
    const spawned = await call(server, "ssh_spawn", { command: "sleep 30" })
    const jobId = spawned.data.job_id as string
    const bad = await call(server, "ssh_send_stdin", { job_id: jobId, keys: ["Enter", "Hyper-x"] })
    expect(bad.data.error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("keys[1]") })
    const noScreen = await call(server, "ssh_screen", { job_id: jobId })
    expect(noScreen.data.error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("no terminal") })
    // Recordings need a directory the operator named.
    const rec = await call(server, "ssh_spawn", { command: "true", record: true })
    expect(rec.data.error).toMatchObject({ code: "INVALID_ARGUMENT", hint: expect.stringContaining("--record-dir") })
    await call(server, "ssh_remove_job", { job_id: jobId, force: true })
  }, 30_000)
})

describeWithSshd("hand-off: a tmux job outlives this server", (getSshd) => {
  it("is found again after a restart and read from its first byte, losing no line; ssh_disconnect ends its session", async () => {
    const sshd = getSshd()
    const args = boxArgs(sshd)
    const N = 200
    const first = await startMcpServer({ args })
    let jobId: string
    try {
      const s = await call(first, "ssh_spawn", { command: `i=0; while [ $i -lt ${N} ]; do i=$((i+1)); echo $i; sleep 0.01; done; sleep 1`, tmux: true, label: "counter" })
      expect(s.isError, s.text).toBe(false)
      jobId = s.data.job_id as string
      const before = await call(first, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 2000, min_lines: 5 })
      // The connection dies: the job goes on in its session, the follower resumes at its offset.
      await sshd.killConnections()
      const after = await call(first, "ssh_tail", { format: "lines", job_id: jobId, since_line_no: before.data.next_line_no, wait_ms: 5000, min_lines: 20 })
      expect(after.isError, after.text).toBe(false)
      const seen = [...(before.data.lines as Array<TailLine>), ...(after.data.lines as Array<TailLine>)].map((l) => Number(l.text))
      expect(seen).toEqual(seen.map((_, i) => i + 1))
    } finally {
      await first.close()
    }
    const second = await startMcpServer({ args })
    try {
      expect((await call(second, "ssh_exec", { command: "true" })).isError).toBe(false)
      const list = await call(second, "ssh_list_jobs", {})
      const found = (list.data.jobs as Array<Record<string, unknown>>).find((j) => j.job_id === jobId)
      expect(found).toMatchObject({ persistent: true, label: "counter", attach: expect.stringContaining(`attach -t mcp-${jobId!}`) })
      const { lines, last } = await tailToEnd(second, jobId!)
      expect(lines.map((l) => Number(l.text))).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      expect(last).toMatchObject({ status: "exited", exit_status: 0 })
      // The host goes: so does the session.
      const d = await call(second, "ssh_disconnect", { host: "box" })
      expect(d.isError, d.text).toBe(false)
      const left = await sshd.exec(`su - ${sshd.user.name} -c 'tmux -L mcp-ssh-live has-session -t mcp-${jobId!} 2>/dev/null || echo gone'`)
      expect(left.stdout.trim()).toBe("gone")
    } finally {
      await second.close()
    }
  }, 90_000)

  it("whose wrapper died unrecorded and whose PIDs went to another process: not running, that process never signalled", async () => {
    const sshd = getSshd()
    const args = boxArgs(sshd)
    const dir = `~${sshd.user.name}/.cache/mcp-ssh-live/tmux`
    const t = 500_000 + Math.floor(Math.random() * 99_999)
    const first = await startMcpServer({ args })
    let jobId: string
    try {
      const s = await call(first, "ssh_spawn", { command: `sleep ${t}`, tmux: true })
      expect(s.isError, s.text).toBe(false)
      jobId = s.data.job_id as string
    } finally {
      await first.close()
    }
    // The command and its wrapper die with no exit recorded (the OOM killer, a reboot); the
    // system gives both PIDs to another process of the same user, leading its own group.
    // The wrapper first: killed after the command, it would record the command's status.
    await sshd.exec(`kill -s KILL "$(cat ${dir}/${jobId}/wpid)"; kill -s KILL -- -"$(cat ${dir}/${jobId}/pid)"`)
    expect(await waitNoProcess(sshd, `sleep ${t}`)).toBe("")
    const pid = await startStranger(sshd, t + 1)
    await sshd.exec(`echo ${pid} > ${dir}/${jobId}/pid; echo ${pid} > ${dir}/${jobId}/wpid`)
    // Ended with no status recorded: how it ended is unknown.
    await expectStrangerSpared(sshd, args, jobId!, pid, "lost")
  }, 60_000)
})

describeWithSshd("hand-off: a host without tmux", (getSshd) => {
  let server: McpServerProcess
  beforeAll(async () => {
    server = await startMcpServer({ args: boxArgs(getSshd()) })
  })
  afterAll(async () => {
    await server?.close()
  })
  it("answers TMUX_UNAVAILABLE with a hint, for a job and for panes", async () => {
    for (const [tool, args] of [["ssh_spawn", { command: "true", tmux: true }], ["ssh_list_panes", {}], ["ssh_follow_pane", { target: "x:0.0" }]] as const) {
      const r = await call(server, tool, args)
      expect(r.data.error, `${tool}: ${r.text}`).toMatchObject({ code: "TMUX_UNAVAILABLE", hint: expect.stringContaining("install") })
    }
  }, 30_000)
}, { extraConfig: "SetEnv PATH=/nonexistent" })

describeWithSshd("hand-off: a job saved as an asciicast v2 recording", (getSshd) => {
  let server: McpServerProcess
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-casts-"))
  beforeAll(async () => {
    server = await startMcpServer({ client: "v1", args: [...boxArgs(getSshd()), "--record-dir", dir] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("keeps timings and output, marks stdin, never writes secret stdin or its echo, and is 0600", async () => {
    const secret = `s3cr3t-${randomBytes(6).toString("hex")}`
    const spawned = await call(server, "ssh_spawn", {
      command: "echo before-sleep; sleep 1; echo after-sleep; printf 'Token: '; read -r t; echo \"token is $t\"; " +
        "printf 'Name? '; read -r n; echo \"hi $n\"",
      pty: true,
      record: true,
      label: "recorded"
    })
    expect(spawned.isError, spawned.text).toBe(false)
    const jobId = spawned.data.job_id as string
    const file = spawned.data.recording as string
    expect(file).toBe(path.join(dir, `${jobId}.cast`))
    await call(server, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 15_000, until: "after-sleep" })
    await until("the token prompt", async () => {
      const t = await call(server, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 2000 })
      return t.data.awaiting_input === true ? true : undefined
    })
    expect((await call(server, "ssh_send_stdin", { job_id: jobId, data: `${secret}\n`, secret: true })).isError).toBe(false)
    await until("the name prompt", async () => {
      const t = await call(server, "ssh_tail", { format: "lines", job_id: jobId, wait_ms: 2000 })
      return t.data.prompt === "Name? " ? true : undefined
    })
    expect((await call(server, "ssh_send_stdin", { job_id: jobId, data: "Ada\n" })).isError).toBe(false)
    const done = await tailToEnd(server, jobId)
    expect(done.last).toMatchObject({ status: "exited", exit_status: 0 })

    const text = await until("the recording closed", async () => {
      const t = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
      return t.includes("hi Ada") ? t : undefined
    })
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(text).not.toContain(secret)
    const [head, ...rest] = text.trimEnd().split("\n")
    expect(JSON.parse(head!)).toMatchObject({ version: 2, width: 200, height: 40, title: "recorded", timestamp: expect.any(Number) })
    const events = rest.map((l) => JSON.parse(l) as [number, "o" | "i", string])
    expect(events.every((e) => e.length === 3 && typeof e[0] === "number" && (e[1] === "o" || e[1] === "i") && typeof e[2] === "string")).toBe(true)
    expect(events.map((e) => e[0])).toEqual([...events.map((e) => e[0])].sort((a, b) => a - b))
    const output = events.filter((e) => e[1] === "o").map((e) => e[2]).join("")
    expect(output).toContain("token is ********")
    expect(output).toContain("hi Ada")
    // The input is there, but not the secret one.
    expect(events.filter((e) => e[1] === "i").map((e) => e[2])).toEqual(["Ada\n"])
    // Timings kept: what came after `sleep 1` is at least that much later.
    const at = (s: string) => events.find((e) => e[1] === "o" && e[2].includes(s))![0]
    expect(at("after-sleep") - at("before-sleep")).toBeGreaterThanOrEqual(0.9)
  }, 60_000)
})

describeWithSshd("hand-off: keys under the operator's policy", (getSshd) => {
  let server: McpServerProcess
  beforeAll(async () => {
    const sshd = getSshd()
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-keys-home-"))
    const host = (alias: string, policy: string) =>
      `[hosts.${alias}]\nhost = "127.0.0.1"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\nkey = "${sshd.clientKeyPath}"\n\n[hosts.${alias}.policy]\n${policy}\n`
    const config = path.join(home, "config.toml")
    fs.writeFileSync(config, `[policy]\ndeny = ['\\brm\\b']\n\n${host("open", "interactive_keys = true")}\n${host("strict", "confirm = ['reboot']")}`)
    server = await startMcpServer({ home, args: ["--known-hosts", sshd.knownHostsPath, "--config", config] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("refuses keys into a terminal program unless the host sets interactive_keys; plain text still goes", async () => {
    const strict = await call(server, "ssh_spawn", { host: "strict", command: "cat -v", pty: true })
    expect(strict.isError, strict.text).toBe(false)
    const keys = await call(server, "ssh_send_stdin", { job_id: strict.data.job_id, keys: ["Esc"] })
    expect(keys.data.error).toMatchObject({ code: "POLICY_DENIED", hint: expect.stringContaining("interactive_keys = true") })
    const escape = await call(server, "ssh_send_stdin", { job_id: strict.data.job_id, data: "\u001b:q\r" })
    expect(escape.data.error).toMatchObject({ code: "POLICY_DENIED" })
    expect((await call(server, "ssh_send_stdin", { job_id: strict.data.job_id, data: "plain\n" })).isError).toBe(false)
    const open = await call(server, "ssh_spawn", { host: "open", command: "echo ready; cat -v", pty: true })
    // Input sent before the command runs would meet the launcher's raw terminal: wait for it.
    await call(server, "ssh_tail", { format: "lines", job_id: open.data.job_id, wait_ms: 5000, until: "^ready" })
    const sent = await call(server, "ssh_send_stdin", { job_id: open.data.job_id, data: "x", keys: ["Esc", "Enter"] })
    expect(sent.isError, sent.text).toBe(false)
    const t = await call(server, "ssh_tail", { format: "lines", job_id: open.data.job_id, since_line_no: 1, wait_ms: 5000, until: "\\^\\[" })
    expect(t.data.matched).toMatchObject({ text: "x^[" })
    for (const job of [strict, open]) await call(server, "ssh_remove_job", { job_id: job.data.job_id, force: true })
  }, 30_000)
})
