import { describe, expect, it } from "vitest"
import { attachCommand, parseList, parsePanes, SOCKET } from "../../../src/ssh/tmux.js"

describe("tmux scripts' output", () => {
  it("reads the panes list, session names with spaces and colons in commands included", () => {
    const text = "%0 120x40 1 0.0 main:bash\n%12 80x24 0 2.1 my work:python3: x\n\ngarbage line\n"
    expect(parsePanes(text)).toEqual([
      { target: "main:0.0", paneId: "%0", command: "bash", size: "120x40", attached: true },
      { target: "my work:2.1", paneId: "%12", command: "python3: x", size: "80x24", attached: false }
    ])
  })

  it("reads the job directories found on a host", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64")
    const text = `job-0a1b2c3d\tjob\t4242\t4240\t1\t%3\t1700000000\tn0nce\t${b64("lbl")}\t${b64("make -j8")}\n` +
      `job-ffffffff\tpane\t\t77\t0\t%9\t1700000001\t\t\t${b64("tmux pane main:0.0")}\nnot-a-job\tjob\n`
    expect(parseList(text)).toEqual([
      { jobId: "job-0a1b2c3d", kind: "job", pid: 4242, running: true, pane: "%3", startedAt: new Date(1_700_000_000_000), nonce: "n0nce", label: "lbl", command: "make -j8" },
      { jobId: "job-ffffffff", kind: "pane", pid: null, running: false, pane: "%9", startedAt: new Date(1_700_000_001_000), nonce: "", label: null, command: "tmux pane main:0.0" }
    ])
  })

  it("gives the person an attach command their ssh understands", () => {
    const target = { socket: SOCKET, session: "mcp-job-1", pane: "%1" }
    const host = { alias: "web1", address: "10.0.0.5", port: 22, user: "deploy", source: "config-file" }
    expect(attachCommand(host, target)).toBe("ssh -t deploy@10.0.0.5 tmux -L mcp-ssh-live attach -t mcp-job-1")
    expect(attachCommand({ ...host, port: 2222 }, target)).toBe("ssh -t -p 2222 deploy@10.0.0.5 tmux -L mcp-ssh-live attach -t mcp-job-1")
    // A host from their ~/.ssh/config: its alias says it all (ProxyJump, port, user).
    expect(attachCommand({ ...host, source: "ssh-config" }, target)).toBe("ssh -t web1 tmux -L mcp-ssh-live attach -t mcp-job-1")
    expect(attachCommand(host, { socket: undefined, session: undefined, pane: "%4" })).toBeUndefined()
  })
})
