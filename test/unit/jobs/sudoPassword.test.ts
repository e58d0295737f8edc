import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { HostAuth } from "../../../src/domain/hosts.js"
import { sudoPassword, sudoPasswordHint } from "../../../src/jobs/sudoPassword.js"

const value = (auth: HostAuth, global: boolean, env: Record<string, string> = {}) => {
  const r = sudoPassword({ auth }, global, env)
  return r === undefined ? undefined : Redacted.value(r)
}

describe("sudoPassword", () => {
  const login = Redacted.make("login-pw")

  it("takes sudo_password_env first, whatever the switch says", () => {
    expect(value({ sudoPasswordEnv: "S", password: login }, true, { S: "sudo-pw" })).toBe("sudo-pw")
    // Named but unset: no password (sudo's own prompt then says SUDO_PASSWORD_REQUIRED), never the login one.
    expect(value({ sudoPasswordEnv: "S", password: login }, true)).toBeUndefined()
  })

  it("never uses the login password unless the operator switched it on", () => {
    expect(value({ password: login }, false)).toBeUndefined()
    expect(value({ passwordEnv: "P" }, false, { P: "env-pw" })).toBeUndefined()
    expect(value({ password: login, sudoWithLoginPassword: false }, true)).toBeUndefined()
  })

  it("with the switch (global or per host), uses the password the host was connected with", () => {
    expect(value({ password: login }, true)).toBe("login-pw")
    expect(value({ password: login, sudoWithLoginPassword: true }, false)).toBe("login-pw")
    expect(value({ passwordEnv: "P", sudoWithLoginPassword: true }, false, { P: "env-pw" })).toBe("env-pw")
    expect(value({ keyPath: "/k" }, true)).toBeUndefined()
  })

  it("hints at both routes", () => {
    const hint = sudoPasswordHint("box")
    expect(hint).toContain("sudo_password_env")
    expect(hint).toContain("sudo_with_login_password")
    expect(hint).toContain("sudo -S")
    expect(hint).toContain("ssh_send_stdin")
    expect(hint).toContain("secret: true")
  })
})
