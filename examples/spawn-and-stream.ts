/**
 * mcp-ssh-live as an Effect library: connect a host, spawn a remote job and consume
 * its output as an Effect Stream, with no MCP involved (the package's root entry never
 * loads the MCP SDK). Closing the program's scope
 * stops anything still running on the host.
 *
 * Run: node examples/spawn-and-stream.ts user@host[:port] /path/to/key  (after npm run build)
 */
import { Effect, Stream } from "effect"
import { Hosts, Jobs, layerConfig } from "mcp-ssh-live"

export interface Target {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly keyPath: string
  readonly knownHostsPath?: string
}

/** Count the lines of a remote command's output while it runs, logging every 1000th. */
export const countLines = (target: Target, command: string) =>
  Effect.gen(function*() {
    // Registers the host under the alias and connects; fields not given come from ~/.ssh/config.
    const info = yield* (yield* Hosts).connect({
      alias: "example",
      host: target.host,
      port: target.port,
      user: target.user,
      keyPath: target.keyPath
    })
    yield* Effect.logInfo(`connected to ${info.serverBanner} (${info.hostKeyFingerprint})`)

    const jobs = yield* Jobs
    const job = yield* jobs.spawn({ host: "example", command })
    const count = yield* jobs.lines(job.jobId).pipe(
      Stream.tap((line) => line.n % 1000 === 0 ? Effect.logInfo(`line ${line.n}: ${line.text}`) : Effect.void),
      Stream.runFold(() => 0, (n) => n + 1)
    )
    const ended = yield* jobs.get(job.jobId)
    return { lines: count, status: ended.status, exitStatus: ended.exitStatus }
  }).pipe(
    Effect.provide(layerConfig(target.knownHostsPath === undefined ? {} : { knownHostsPath: target.knownHostsPath }))
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const [spec, keyPath] = process.argv.slice(2)
  const m = /^([^@]+)@([^:]+)(?::(\d+))?$/.exec(spec ?? "")
  if (m === null || keyPath === undefined) {
    process.stderr.write("usage: node examples/spawn-and-stream.ts user@host[:port] /path/to/key\n")
    process.exit(2)
  }
  const target = { user: m[1]!, host: m[2]!, port: Number(m[3] ?? 22), keyPath }
  Effect.runPromise(countLines(target, "seq 1 5000")).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e) => {
      process.stderr.write(`${String(e)}\n`)
      process.exit(1)
    }
  )
}
