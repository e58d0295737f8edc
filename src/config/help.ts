/**
 * The --help text, and the HTTP defaults it names.
 *
 * @since 0.1.0
 */
import { limitHelpLines } from "../domain/limits.js"

export const defaultHttpSessionIdleSec = 1800
export const defaultHttpMaxSessions = 64
/** Shortest MCP_SSH_LIVE_TOKEN accepted for a bind beyond loopback. */
export const minRemoteTokenLength = 32

export const helpText = `Usage: mcp-ssh-live [flags]

An MCP server on stdio giving LLM agents live, streaming SSH.
With no flags it starts with no hosts: agents add them with ssh_connect.

Hosts:
  --host alias=addr[:port]     pre-configure a host (repeatable; IPv6 as alias=[::1]:22)
  --user NAME                  remote user of the --host entries (default: local user)
  --password-env NAME          environment variable holding their password
  --key PATH                   their private key
  --key-passphrase-env NAME    environment variable holding the key's passphrase
  --sudo-password-env NAME     environment variable holding the sudo password (sudo: true)
  --sudo-with-login-password   without one, sudo: true answers sudo with the password the host
                               was connected with (default off: the account's rc files could read it)
  --default-host ALIAS         host used when a tool names none

Server:
  --http                       serve MCP over Streamable HTTP at http://BIND:PORT/mcp instead of stdio;
                               clients send "Authorization: Bearer <token>", the token from
                               MCP_SSH_LIVE_TOKEN, else generated at start and printed to stderr
  --port N                     HTTP port (default: 8765; 0 picks a free one)
  --bind ADDR                  HTTP address (default: 127.0.0.1); loopback only (127.0.0.0/8, ::1) unless
                               --allow-remote-bind
  --allow-remote-bind          allow a non-loopback --bind; needs MCP_SSH_LIVE_TOKEN of ${minRemoteTokenLength}+ characters
                               (plain HTTP: the token crosses the network in clear; put TLS in front)
  --http-session-idle-sec N    close an HTTP session with no request for N seconds (default: ${defaultHttpSessionIdleSec})
  --http-max-sessions N        HTTP sessions at most; past it the least recently used idle one closes
                               (default: ${defaultHttpMaxSessions})
  --config PATH                TOML config file (default: $XDG_CONFIG_HOME/mcp-ssh-live/config.toml,
                               else ~/.config/mcp-ssh-live/config.toml; missing is fine)
  --known-hosts PATH           known_hosts file (default: ~/.ssh/known_hosts)
  --insecure-auto-add          accept and record unknown host keys of the configured hosts
                               (not of hosts the agent adds; changed keys are always refused)
  --allow-agent-insecure-auto-add
                               honour insecure_auto_add when the agent passes it to ssh_connect
                               (default: ignored; the unknown key is put to the user or refused)
  --allow-tunnel-bind-any      let ssh_tunnel_open listen here on a non-loopback address
                               (default: local and dynamic tunnels bind loopback only)
  --local-root DIR             the only local directory transfers may read and write (repeatable; replaces
                               the default: home and the temp directory, which a stdio client's MCP roots
                               narrow); /proc, /sys, /dev, ~/.ssh and this server's own files stay out
                               unless DIR is inside them
  --log-dir DIR                append every job line to DIR/<job_id>.log
  --audit-log FILE             append one JSON line per tool call to FILE (0600; secrets redacted)
  --record-dir DIR             where ssh_spawn record: true saves DIR/<job_id>.cast (asciicast v2, 0600;
                               default: the --log-dir)
  --view-port N                also serve the live job view as a web page on 127.0.0.1:N (0: a free port);
                               ssh_spawn and ssh_tail results then carry its view_url (a per-job token)
  --log-level LEVEL            trace, debug, info, warn, error, none (default: info)

Limits:
${limitHelpLines()}

  -h, --help                   show this help
  -V, --version                show the version

Flags override the config file, which overrides the defaults. Passwords are never
accepted as arguments: name environment variables that hold them. Logs go to stderr;
stdout carries only MCP messages. SSH algorithms: [server.algorithms] in the
config file (weak ones such as ssh-rsa and hmac-sha1 are off by default). An opt-in
policy (deny / allow / confirm regexes, read_only, upload paths, tunnels): [policy] and
[hosts.<alias>.policy] in the config file. Docs: docs/CONFIG.md.
`
