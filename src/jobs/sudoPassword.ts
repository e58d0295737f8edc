/**
 * Where `sudo: true` gets the password it writes to sudo's stdin: the host's
 * `sudo_password_env`, else — only where the operator set `sudo_with_login_password`
 * (per host, else globally) — the password the host was connected with. Off by
 * default: an account's rc files run before our launcher and could read what is
 * written to its stdin.
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"
import type { HostEntry } from "../domain/hosts.js"

export const sudoPassword = (
  host: Pick<HostEntry, "auth">,
  globalLoginPassword: boolean,
  env: Readonly<Record<string, string | undefined>>
): Redacted.Redacted<string> | undefined => {
  const auth = host.auth
  if (auth.sudoPasswordEnv !== undefined) {
    const value = env[auth.sudoPasswordEnv]
    return value === undefined ? undefined : Redacted.make(value)
  }
  if (!(auth.sudoWithLoginPassword ?? globalLoginPassword)) return undefined
  if (auth.password !== undefined) return auth.password
  const login = auth.passwordEnv === undefined ? undefined : env[auth.passwordEnv]
  return login === undefined ? undefined : Redacted.make(login)
}

/** The hint of SUDO_PASSWORD_REQUIRED: what the operator can set, and what the agent can do now. */
export const sudoPasswordHint = (alias: string): string =>
  `run the command without sudo: true as \`sudo -S -p 'Password: ' …\` and answer its prompt with ssh_send_stdin ` +
  `(secret: true); or the operator sets sudo_password_env for [hosts.${alias}] (or --sudo-password-env), or ` +
  `sudo_with_login_password to use the password the host was connected with`
