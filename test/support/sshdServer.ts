/**
 * A real OpenSSH sshd for the integration and end-to-end suites: a free loopback
 * port, throwaway host and client keys, two test users, killed afterwards.
 *
 * No test-runner imports here: the benchmarks use it too (`test/support/sshd.ts` adds the
 * vitest wrapper). Needs root to create the users `mcpssh_a` (password sudo) and `mcpssh_b`
 * (passwordless sudo) and to let sshd switch to them. See docs/TESTING.md.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface TestUser {
  readonly name: string
  readonly password: string
  readonly home: string
  readonly uid: number
}

export interface SshdOptions {
  readonly maxSessions?: number
  readonly extraConfig?: string
  /**
   * Run sshd in a network namespace of its own, reached over a veth pair, so a test can
   * cut the network (`blockNetwork`) without touching anything else on the machine.
   */
  readonly netns?: boolean
  /**
   * Also give sshd an RSA host key (`Sshd.rsaHostKey`). Which key types it offers is then up
   * to `extraConfig` (e.g. `HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256`); the generated
   * known_hosts still holds the ed25519 key only.
   */
  readonly rsaHostKey?: boolean
  /** sshd's LogLevel (default VERBOSE); DEBUG2 and up log the client's KEXINIT proposal to `logPath`. */
  readonly logLevel?: string
}

export interface HostKeyFiles {
  /** Private key path; the public key is at `${path}.pub`. */
  readonly path: string
  /** Wire-format public key. */
  readonly blob: Buffer
  /** `ssh-rsa AAAA…`: the public key line without its comment. */
  readonly publicLine: string
}

export interface Sshd {
  /** 127.0.0.1, or the namespace's address with `netns`. */
  readonly host: string
  readonly port: number
  readonly dir: string
  readonly hostKeyPath: string
  readonly hostKeyBlob: Buffer
  /** With `rsaHostKey`: sshd's RSA host key. */
  readonly rsaHostKey?: HostKeyFiles
  /** sshd's log file (`-E`). */
  readonly logPath: string
  readonly clientKeyPath: string
  readonly knownHostsPath: string
  readonly emptyKnownHostsPath: string
  /** Password-protected sudo. */
  readonly user: TestUser
  /** NOPASSWD sudo. */
  readonly nopasswdUser: TestUser
  readonly pid: number
  /** Run a command as root on this machine (the sshd side), for assertions. */
  exec(command: string): Promise<{ stdout: string; stderr: string; code: number }>
  /**
   * Run a command as root where sshd's sessions run: inside its network namespace with `netns`
   * (its 127.0.0.1 is not ours), else like `exec`.
   */
  execInside(command: string): Promise<{ stdout: string; stderr: string; code: number }>
  stop(): Promise<void>
  /** Stop the listener and start it again on the same port with the same keys. */
  restart(): Promise<void>
  /** Stop the listener only (sessions already open go on); `restart()` brings it back. */
  pause(): Promise<void>
  /** SIGKILL every sshd process serving a connection of this listener: the connections drop. */
  killConnections(): Promise<void>
  /**
   * The host goes down: no new connection is accepted and every open one drops, with no
   * window between the two for a client's reconnect to slip through; `restart()` brings it back.
   */
  goDown(): Promise<void>
  /** With `netns`: drop every packet between us and sshd (the link goes down) / restore it. */
  blockNetwork(): Promise<void>
  unblockNetwork(): Promise<void>
}

/** Path of the sshd binary ($SSHD, /usr/sbin/sshd, or on PATH), if any. */
export const sshdAvailable = (): string | undefined => {
  const candidates = [process.env.SSHD, "/usr/sbin/sshd"].filter((p): p is string => p !== undefined && p !== "")
  for (const c of candidates) if (fs.existsSync(c)) return c
  try {
    const found = execFileSync("sh", ["-c", "command -v sshd"], { encoding: "utf8" }).trim()
    return found === "" ? undefined : found
  } catch {
    return undefined
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

const run = (command: string) =>
  new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    execFile("sh", ["-c", command], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1
      resolve({ stdout, stderr, code })
    })
  })

/**
 * The user's password: random, made once and kept root-only on this machine, so test
 * files running in parallel (each with its own sshd) agree on it.
 */
const testPassword = (name: string): string => {
  const dir = "/var/lib/mcpssh-test"
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = path.join(dir, `${name}.password`)
  try {
    fs.writeFileSync(file, `pw-${randomBytes(12).toString("hex")}`, { flag: "wx", mode: 0o600 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  return fs.readFileSync(file, "utf8").trim()
}

/** Create (or refresh) a local test user. */
const ensureUser = (name: string): TestUser => {
  try {
    execFileSync("id", ["-u", name], { stdio: "ignore" })
  } catch {
    execFileSync("useradd", ["-m", "-s", "/bin/bash", name], { stdio: "ignore" })
  }
  const password = testPassword(name)
  execFileSync("chpasswd", [], { input: `${name}:${password}\n` })
  execFileSync("usermod", ["-U", "-s", "/bin/bash", name], { stdio: "ignore" })
  const home = execFileSync("sh", ["-c", `getent passwd ${name} | cut -d: -f6`], { encoding: "utf8" }).trim()
  fs.mkdirSync(home, { recursive: true })
  const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim())
  return { name, password, home, uid }
}

const ensureSudoers = () => {
  const file = "/etc/sudoers.d/mcpssh_test"
  const text = [
    "Defaults:mcpssh_a !lecture, timestamp_timeout=0",
    "mcpssh_a ALL=(ALL) ALL",
    "mcpssh_b ALL=(ALL) NOPASSWD: ALL",
    ""
  ].join("\n")
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, text, { mode: 0o440 })
  try {
    execFileSync("visudo", ["-cf", tmp], { stdio: "ignore" })
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw new Error(`cannot install sudoers for the test users: ${(e as Error).message}`)
  }
}

/** A network namespace with a veth pair: us on .1, sshd on .2 of a random 10.231.x.0/30. */
const makeNamespace = () => {
  const id = randomBytes(3).toString("hex")
  const subnet = 4 * Math.floor(Math.random() * 60)
  const third = Math.floor(Math.random() * 250)
  const name = `mcpssh-${id}`
  const hostLink = `mh${id}`
  const nsLink = `mn${id}`
  const hostAddress = `10.231.${third}.${subnet + 1}`
  const address = `10.231.${third}.${subnet + 2}`
  for (const cmd of [
    ["netns", "add", name],
    ["link", "add", hostLink, "type", "veth", "peer", "name", nsLink],
    ["link", "set", nsLink, "netns", name],
    ["addr", "add", `${hostAddress}/30`, "dev", hostLink],
    ["link", "set", hostLink, "up"],
    ["netns", "exec", name, "ip", "addr", "add", `${address}/30`, "dev", nsLink],
    ["netns", "exec", name, "ip", "link", "set", nsLink, "up"],
    ["netns", "exec", name, "ip", "link", "set", "lo", "up"]
  ]) execFileSync("ip", cmd)
  return { name, hostLink, hostAddress, address }
}

const live = new Set<ChildProcess>()
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL")
})

/** Wait until the port answers with an SSH banner. */
const waitReady = async (host: string, port: number, logFile: string, child: ChildProcess) => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host)
      s.setTimeout(1000)
      s.once("data", (d) => {
        s.destroy()
        resolve(d.toString().startsWith("SSH-2.0"))
      })
      s.once("error", () => resolve(false))
      s.once("timeout", () => {
        s.destroy()
        resolve(false)
      })
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n") : ""
  throw new Error(`sshd did not start on ${host}:${port}\n${log}`)
}

export const startSshd = async (options: SshdOptions = {}): Promise<Sshd> => {
  const sshdPath = sshdAvailable()
  if (sshdPath === undefined) throw new Error("sshd not found (install openssh-server or set $SSHD)")
  if (!isRoot()) throw new Error("the sshd harness needs root to create its test users (see docs/TESTING.md)")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcpssh-sshd-"))
  fs.chmodSync(dir, 0o755)
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })

  const hostKeyPath = path.join(dir, "ssh_host_ed25519_key")
  const clientKeyPath = path.join(dir, "client_ed25519")
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "mcpssh-test-host", "-f", hostKeyPath])
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "mcpssh-test-client", "-f", clientKeyPath])
  const hostPub = fs.readFileSync(`${hostKeyPath}.pub`, "utf8").trim().split(" ")
  const hostKeyBlob = Buffer.from(hostPub[1]!, "base64")
  let rsaHostKey: HostKeyFiles | undefined
  if (options.rsaHostKey === true) {
    const rsaPath = path.join(dir, "ssh_host_rsa_key")
    execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "mcpssh-test-host-rsa", "-f", rsaPath])
    const rsaPub = fs.readFileSync(`${rsaPath}.pub`, "utf8").trim().split(" ")
    rsaHostKey = { path: rsaPath, blob: Buffer.from(rsaPub[1]!, "base64"), publicLine: `${rsaPub[0]} ${rsaPub[1]}` }
  }

  const user = ensureUser("mcpssh_a")
  const nopasswdUser = ensureUser("mcpssh_b")
  ensureSudoers()
  const authDir = path.join(dir, "authorized_keys")
  fs.mkdirSync(authDir, { mode: 0o755 })
  const clientPub = fs.readFileSync(`${clientKeyPath}.pub`, "utf8")
  for (const name of [user.name, nopasswdUser.name, "root"]) fs.writeFileSync(path.join(authDir, name), clientPub, { mode: 0o644 })

  const ns = options.netns === true ? makeNamespace() : undefined
  const host = ns?.address ?? "127.0.0.1"
  let port = await freePort()
  const configPath = path.join(dir, "sshd_config")
  const logFile = path.join(dir, "sshd.log")
  const writeConfig = () =>
    fs.writeFileSync(configPath, [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKeyPath}`,
      ...(rsaHostKey !== undefined ? [`HostKey ${rsaHostKey.path}`] : []),
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authDir}/%u`,
      "StrictModes no",
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin yes",
      "UsePAM no",
      ...(options.maxSessions !== undefined ? [`MaxSessions ${options.maxSessions}`] : []),
      "MaxStartups 100:30:200",
      `LogLevel ${options.logLevel ?? "VERBOSE"}`,
      "Subsystem sftp internal-sftp",
      "ClientAliveInterval 0",
      options.extraConfig ?? "",
      ""
    ].join("\n"))

  const knownHostsPath = path.join(dir, "known_hosts")
  const emptyKnownHostsPath = path.join(dir, "known_hosts.empty")
  fs.writeFileSync(emptyKnownHostsPath, "")

  let child: ChildProcess | undefined
  const startListener = async () => {
    for (let attempt = 0; ; attempt++) {
      writeConfig()
      fs.writeFileSync(knownHostsPath, `[${host}]:${port} ${hostPub[0]} ${hostPub[1]}\n`)
      const argv = [sshdPath, "-D", "-f", configPath, "-E", logFile]
      const c = ns === undefined
        ? spawn(argv[0]!, argv.slice(1), { stdio: "ignore" })
        : spawn("ip", ["netns", "exec", ns.name, ...argv], { stdio: "ignore" })
      live.add(c)
      c.once("exit", () => live.delete(c))
      try {
        await waitReady(host, port, logFile, c)
        child = c
        return
      } catch (e) {
        c.kill("SIGKILL")
        const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""
        if (attempt < 3 && /Address already in use/.test(log)) {
          port = await freePort()
          continue
        }
        throw e
      }
    }
  }
  const stopListener = async () => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null) return
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()))
    c.kill("SIGTERM")
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
    if (c.exitCode === null) c.kill("SIGKILL")
  }

  /** SIGKILL the sshd processes below the listener `pid` (not the users' commands); the listener is stopped. */
  const killBelow = async (pid: number) => {
    const ps = (await run("ps -eo pid=,ppid=,comm=")).stdout.trim().split("\n").map((l) => l.trim().split(/\s+/))
    const victims: Array<string> = []
    let frontier = [String(pid)]
    while (frontier.length > 0) {
      const next = ps.filter(([, ppid]) => frontier.includes(ppid!))
      victims.push(...next.filter(([, , comm]) => comm === "sshd").map(([p]) => p!))
      frontier = next.map(([p]) => p!)
    }
    if (victims.length > 0) await run(`kill -KILL ${victims.join(" ")}`)
  }

  /** Kill every connection; the listener is stopped meanwhile, so that none forks after the walk. */
  const killConnections = async () => {
    const c = child
    if (c?.pid === undefined || !c.kill("SIGSTOP")) return
    try {
      await killBelow(c.pid)
    } finally {
      c.kill("SIGCONT")
    }
  }

  await startListener()
  return {
    host,
    get port() {
      return port
    },
    dir,
    hostKeyPath,
    hostKeyBlob,
    ...(rsaHostKey !== undefined ? { rsaHostKey } : {}),
    logPath: logFile,
    clientKeyPath,
    knownHostsPath,
    emptyKnownHostsPath,
    user,
    nopasswdUser,
    get pid() {
      return child?.pid ?? -1
    },
    exec: run,
    execInside: (command) => run(ns === undefined ? command : `ip netns exec ${ns.name} sh -c ${shellQuote(command)}`),
    blockNetwork: async () => {
      if (ns !== undefined) await run(`ip link set ${ns.hostLink} down`)
    },
    unblockNetwork: async () => {
      if (ns !== undefined) await run(`ip link set ${ns.hostLink} up && ip addr replace ${ns.hostAddress}/30 dev ${ns.hostLink}`)
    },
    stop: async () => {
      await stopListener()
      if (ns !== undefined) await run(`ip link del ${ns.hostLink} 2>/dev/null; ip netns delete ${ns.name} 2>/dev/null; true`)
      fs.rmSync(dir, { recursive: true, force: true })
    },
    pause: stopListener,
    killConnections,
    goDown: async () => {
      const c = child
      if (c?.pid === undefined || c.exitCode !== null || !c.kill("SIGSTOP")) {
        throw new Error(`goDown: the listener is not running (pid ${c?.pid}, exit ${c?.exitCode}, signal ${c?.signalCode})`)
      }
      // Stopped, the listener forks no new connection; killed (never resumed), it accepts none.
      child = undefined
      const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()))
      try {
        await killBelow(c.pid)
      } finally {
        c.kill("SIGKILL")
      }
      await exited
    },
    restart: async () => {
      await stopListener()
      await startListener()
    }
  }
}

/** Wait until `pgrep -f pattern` on the sshd side finds nothing (or give up after `ms`). */
export const waitNoProcess = async (sshd: Sshd, pattern: string, ms = 10_000): Promise<string> => {
  const until = Date.now() + ms
  for (;;) {
    const r = await sshd.exec(`pgrep -af -- ${JSON.stringify(pattern)} | grep -v pgrep || true`)
    if (r.stdout.trim() === "" || Date.now() > until) return r.stdout.trim()
    await new Promise((res) => setTimeout(res, 200))
  }
}

/** Server flags that pre-configure `sshd` as host `box`, key auth, its host key trusted. */
export const boxArgs = (sshd: Sshd): Array<string> => [
  "--known-hosts", sshd.knownHostsPath, "--host", `box=127.0.0.1:${sshd.port}`, "--user", sshd.user.name, "--key", sshd.clientKeyPath
]
