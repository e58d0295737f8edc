import { Effect, Schema } from "effect"
import { quoteForHuman } from "../../domain/escapeText.js"
import { Alias, Hostname } from "../../domain/hosts.js"
import type { ConnectOptions, UnknownHostKey, UnknownHostKeyDecision } from "../../services/Connections.js"
import { Hosts } from "../../services/Hosts.js"
import { authPromptOption } from "./authPrompt.js"
import { acceptedAnswer, elicitForm } from "./elicitForm.js"
import { guardLength, int, Name, nonEmpty, snakeKeys } from "./fields.js"
import * as Tool from "./Tool.js"

/**
 * Host names, IP addresses and ssh_config Host names. `Hosts.connect` refuses, as ssh does,
 * shell metacharacters, whitespace and control characters in it and in `user`
 * (INVALID_ARGUMENT naming the field), before the ssh_config lookup.
 */
const HostName = Hostname.annotate({ description: "Hostname, IP or ~/.ssh/config Host." })

/** `Hosts.connect`'s options, as the agent sends them (snake_case). */
const Input = snakeKeys(Schema.Struct({
  host: HostName,
  port: Schema.optionalKey(int(1, 65535).annotate({ description: "Default: ssh config, else 22." })),
  user: Schema.optionalKey(Name(255, "Default: ssh config, else the local user.")),
  password: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  keyPath: Schema.optionalKey(Name(4096, "Private key on this server's machine.")),
  passphrase: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  alias: Schema.optionalKey(Alias.annotate({ description: "1-64 of A-Za-z0-9._- (default: host, other characters as _)." })),
  insecureAutoAdd: Schema.optionalKey(Schema.Boolean.annotate({
    description: "Save an unknown host key; honoured only if the operator allows it, else the user is asked."
  })),
  replace: Schema.optionalKey(Schema.Boolean.annotate({ description: "Re-register an alias with other settings." })),
  groups: Schema.optionalKey(Schema.Array(Alias).check(nonEmpty, guardLength(64)))
}))

/** What `Hosts.connect` returns, as the agent reads it (snake_case). */
const Output = snakeKeys(Schema.Struct({
  alias: Schema.String,
  address: Schema.String,
  port: Schema.Int,
  user: Schema.String,
  authMethod: Schema.String,
  hostKeyFingerprint: Schema.String,
  serverBanner: Schema.String,
  isDefault: Schema.Boolean,
  ignoredConfig: Schema.optionalKey(Schema.Array(Schema.String))
}))

/** The host-key question's one field: the decisions `onUnknownHostKey` takes. */
const HostKeyDecision = Schema.Struct({
  decision: Schema.Literals(["refuse", "session", "save"] satisfies ReadonlyArray<UnknownHostKeyDecision>).annotate({
    title: "Host key",
    enumNames: ["Refuse", "Trust for this session", "Trust and save to known_hosts"]
  })
})

/**
 * The question about an unknown host key. The wording is ours; the alias and address come
 * from the agent (or its ssh_config lookup) and the key type from the host, so they are
 * quoted (JSON, line separators and bidi controls escaped too): whatever they hold cannot
 * pass for our text.
 */
export const hostKeyQuestion = (key: UnknownHostKey): string =>
  `The SSH host key of the host the agent named ${quoteForHuman(key.alias)} ` +
  `(${quoteForHuman(key.address.includes(":") ? `[${key.address}]:${key.port}` : `${key.address}:${key.port}`)}) is not known.\n` +
  `${/^[A-Za-z0-9@.-]+$/.test(key.keyType) ? key.keyType : quoteForHuman(key.keyType)} ${key.fingerprint}\n` +
  `Trust it? Check the fingerprint out of band first.`

/** Ask the human about an unknown host key when the client can show a form; never about a changed one. */
const hostKeyPrompt = (ctx: Tool.ToolContext): ConnectOptions => {
  const elicit = ctx.elicit
  if (elicit === undefined) return {}
  return {
    onUnknownHostKey: (key) =>
      elicit(elicitForm(hostKeyQuestion(key), HostKeyDecision)).pipe(
        Effect.map((answer) => acceptedAnswer(HostKeyDecision, answer)?.decision ?? "refuse"),
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
  // A task only when it asks about a host key (or connecting takes that long).
  task: "own",
  handler: Effect.fnUntraced(function*(input, ctx) {
    const host = yield* (yield* Hosts).connect({
      ...input,
      ...hostKeyPrompt(ctx),
      ...authPromptOption(ctx, input.alias ?? input.host)
    })
    // What of ~/.ssh/config applied and is not honoured: named, never dropped silently (absent when nothing).
    const { ignoredConfig, ...rest } = host
    return { ...rest, ...(ignoredConfig.length > 0 ? { ignoredConfig } : {}) }
  })
})

