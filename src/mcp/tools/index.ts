/**
 * Every tool the server publishes, in the order `tools/list` shows them.
 *
 * @since 0.1.0
 */
import { sshConnect } from "./ssh_connect.js"
import { sshDisconnect } from "./ssh_disconnect.js"
import { sshExec } from "./ssh_exec.js"
import { sshExecMany } from "./ssh_exec_many.js"
import { sshFollowPane } from "./ssh_follow_pane.js"
import { sshListHosts } from "./ssh_list_hosts.js"
import { sshListJobs } from "./ssh_list_jobs.js"
import { sshListPanes } from "./ssh_list_panes.js"
import { sshRemoveJob } from "./ssh_remove_job.js"
import { sshScreen } from "./ssh_screen.js"
import { sshSendStdin } from "./ssh_send_stdin.js"
import { sshSignal } from "./ssh_signal.js"
import { sshSpawn } from "./ssh_spawn.js"
import { sshTail } from "./ssh_tail.js"
import { sshTunnelClose } from "./ssh_tunnel_close.js"
import { sshTunnelList } from "./ssh_tunnel_list.js"
import { sshTunnelOpen } from "./ssh_tunnel_open.js"
import { sshDownload, sshUpload } from "./transfer.js"

export const tools = [
  sshConnect,
  sshDisconnect,
  sshListHosts,
  sshExec,
  sshExecMany,
  sshSpawn,
  sshTail,
  sshSignal,
  sshSendStdin,
  sshListJobs,
  sshRemoveJob,
  sshUpload,
  sshDownload,
  sshTunnelOpen,
  sshTunnelList,
  sshTunnelClose,
  sshScreen,
  sshListPanes,
  sshFollowPane
] as const
