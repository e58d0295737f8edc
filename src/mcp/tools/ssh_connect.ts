import * as fs from "node:fs/promises"
import * as os from "node:os"
import { Effect, Schema } from "effect"
import { jumpEntry, resolveSshConfig } from "../../config/sshConfig.js"
import { AppConfig } from "../../services/AppConfig.js"
import { type ConnectOptions, Connections, type UnknownHostKeyDecision } from "../../services/Connections.js"
import { HostKeyUnknownError } from "../../domain/errors.js"
import { ALIAS_PATTERN, type HostEntry } from "../../domain/hosts.js"
import { aliasForHost, defaultUser, HostRegistry } from "../../services/HostRegistry.js"
import { int, Name } from "./fields.js"
import * as Tool from "./Tool.js"

/** Host names, IP addresses and ssh_config Host names hold no whitespace or control characters. */
const HostName = Name(255, "Hostname, IP or ~/.ssh/config Host.").check(
  Schema.makeFilter((s: string) => (/[\s\p{Cc}]/u.test(s) ? "must not contain spaces or control characters" : undefined))
)

const Input = Schema.Struct({
  host: HostName,
  port: Schema.optionalKey(int(1, 65535).annotate({ description: "Default: ssh config, else 22." })),
  user: Schema.optionalKey(Name(255, "Default: ssh config, else the local user.")),
  password: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  key_path: Schema.optionalKey(Name(4096, "Private key on this server's machine.")),
  passphrase: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  alias: Schema.optionalKey(Schema.String.annotate({ description: "1-64 of A-Za-z0-9._- (default: host, other characters as _)." })
    .check(Schema.isPattern(ALIAS_PATTERN))),
  insecure_auto_add: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Save an unknown host key; honoured only if the operator allows it, else the user is asked."
  })),
  replace: Schema.optionalKey(Schema.Boolean.annotate({ description: "Re-register an alias with other settings." }))
})

const Output = Schema.Struct({
  alias: Schema.String,
  address: Schema.String,
  port: Schema.Int,
  user: Schema.String,
  auth_method: Schema.String,
  host_key_fingerprint: Schema.String,
  server_banner: Schema.String,
  is_default: Schema.Boolean
})

const DECISIONS: Record<string, UnknownHostKeyDecision> = { refuse: "refuse", session: "session", save: "save" }

/** Ask the human about an unknown host key when the client can show a form; never about a changed one. */
const hostKeyPrompt = (ctx: Tool.ToolContext): ConnectOptions => {
  const elicit = ctx.elicit
  if (elicit === undefined) return {}
  return {
    onUnknownHostKey: (key) =>
      elicit({
        // The wording is ours; the alias and address come from the agent (or its ssh_config lookup),
        // so they are JSON-quoted: whatever they hold cannot pass for our text.
        message: `The SSH host key of the host the agent named ${JSON.stringify(key.alias)} ` +
          `(${JSON.stringify(key.address.includes(":") ? `[${key.address}]:${key.port}` : `${key.address}:${key.port}`)}) is not known.\n` +
          `${/^[A-Za-z0-9@.-]+$/.test(key.keyType) ? key.keyType : JSON.stringify(key.keyType)} ${key.fingerprint}\n` +
          `Trust it? Check the fingerprint out of band first.`,
        requestedSchema: {
          type: "object",
          properties: {
            decision: {
              type: "string",
              title: "Host key",
              enum: ["refuse", "session", "save"],
              enumNames: ["Refuse", "Trust for this session", "Trust and save to known_hosts"]
            }
          },
          required: ["decision"]
        }
      }).pipe(
        Effect.map((answer) =>
          answer.action === "accept" && typeof answer.content?.decision === "string"
            ? DECISIONS[answer.content.decision] ?? "refuse"
            : "refuse"
        ),
        Effect.catch((e) => Effect.as(Effect.logWarning(`host key elicitation failed: ${e.message}`), "refuse" as const))
      )
  }
}

export const sshConnect = Tool.make({
  name: "ssh_connect",
  title: "Connect to an SSH host",
  description:
    "Connect to a host and register it under an alias, which the other tools take as host (configured hosts " +
    "need no connect: see ssh_list_hosts). Auth: password or key_path, else ssh-agent and default keys. An unknown host key " +
    "is asked of the user, or fails HOST_KEY_UNKNOWN; a changed one is refused.",
  annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: true },
  input: Input,
  output: Output,
  handler: Effect.fnUntraced(function*(input, ctx) {
    const registry = yield* HostRegistry
    const connections = yield* Connections
    const config = yield* AppConfig
    const alias = input.alias ?? aliasForHost(input.host)
    const home = os.homedir()
    const sshConfig = yield* Effect.promise(() => fs.readFile(config.sshConfigPath, "utf8").catch(() => ""))
    const resolved = resolveSshConfig(sshConfig, input.host, home, defaultUser())
    // The agent may ask for less trust, never for more unless the operator allows it (SPEC §8).
    const agentAutoAddIgnored = input.insecure_auto_add === true && !config.allowAgentInsecureAutoAdd && !config.insecureAutoAdd
    const insecureAutoAdd = input.insecure_auto_add === undefined || agentAutoAddIgnored ? config.insecureAutoAdd : input.insecure_auto_add
    const entry: HostEntry = {
      alias,
      address: resolved.hostName,
      port: input.port ?? resolved.port ?? 22,
      user: input.user ?? resolved.user ?? defaultUser(),
      auth: {
        ...(input.password !== undefined ? { password: input.password } : {}),
        ...(input.key_path !== undefined ? { keyPath: input.key_path } : {}),
        ...(input.passphrase !== undefined ? { passphrase: input.passphrase } : {}),
        ...(resolved.identityFiles.length > 0 ? { identityFiles: resolved.identityFiles } : {})
      },
      source: resolved.named ? "ssh-config" : "runtime",
      insecureAutoAdd,
      ...(resolved.proxyJump !== undefined
        ? { proxyJump: resolved.proxyJump.map((spec) => jumpEntry(sshConfig, spec, home, defaultUser(), insecureAutoAdd)) }
        : {}),
      ...(resolved.serverAliveIntervalSec !== undefined ? { keepaliveIntervalMs: resolved.serverAliveIntervalSec * 1000 } : {})
    }
    const previous = (yield* registry.list).find((h) => h.alias === alias)
    yield* registry.register(entry, { replace: input.replace === true })
    if (previous !== undefined && previous !== entry && input.replace === true) yield* connections.disconnect(alias)
    const info = yield* connections.connect(alias, hostKeyPrompt(ctx)).pipe(
      // A failed connect leaves the registry as it was, so the agent can retry with other settings.
      Effect.tapError(() =>
        previous === undefined
          ? registry.remove(alias)
          : Effect.ignore(registry.register(previous, { replace: true }))
      ),
      Effect.catchTag("HostKeyUnknownError", (e) =>
        Effect.fail(
          agentAutoAddIgnored
            ? new HostKeyUnknownError({
              message: `${e.message}; insecure_auto_add was not honoured: the operator has not enabled --allow-agent-insecure-auto-add`,
              hint: "ask the user to verify the fingerprint and add the key to known_hosts (ssh-keyscan), or to start the server with --allow-agent-insecure-auto-add",
              fingerprint: e.fingerprint
            })
            : e
        ))
    )
    const defaultAlias = yield* registry.defaultAlias
    return {
      alias: info.alias,
      address: info.address,
      port: info.port,
      user: info.user,
      auth_method: info.authMethod,
      host_key_fingerprint: info.hostKeyFingerprint,
      server_banner: info.serverBanner,
      is_default: defaultAlias === alias
    }
  })
})

