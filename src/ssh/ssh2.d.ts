/**
 * Where @types/ssh2 lags ssh2 1.17's runtime, declared once instead of cast at each use.
 */
import type { AnyAuthMethod, AuthenticationType, ConnectConfig } from "ssh2"

declare module "ssh2" {
  /**
   * The config as ssh2 1.17 reads it: its authHandler is called with a null `methodsLeft`
   * the first time, and `next(false)` stops trying (the published type has neither).
   */
  interface RuntimeConnectConfig extends Omit<ConnectConfig, "authHandler"> {
    readonly authHandler?: (
      methodsLeft: Array<AuthenticationType> | null,
      partialSuccess: boolean | null,
      next: (auth: AnyAuthMethod | false) => void
    ) => void
  }

  interface Client {
    connect(config: RuntimeConnectConfig): this
    /**
     * The software version from the server's identification string (`SSH-2.0-<this>`). ssh2
     * keeps it only in this field: its 'greeting' event carries the lines before the
     * identification, and 'handshake' the negotiated algorithms. Read in one place
     * (`serverBanner` in src/ssh/SshClient.ts).
     */
    readonly _remoteVer?: string | undefined
  }
}
