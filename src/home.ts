// $CTL_HOME (default ~/.ctl) and the embedded control plane's data folder under it. Here, at the
// bottom, because the CLI (contexts, credentials) and the server (the master key's default place)
// both need them.
import { homedir } from 'node:os'
import { join } from 'node:path'

export function ctlHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CTL_HOME && env.CTL_HOME.trim() !== '' ? env.CTL_HOME : join(homedir(), '.ctl')
}

/** Where root's embedded control plane keeps its data when CTL_HOME is not set. */
export const ROOT_DATA_DIR = '/var/lib/ctl'

/**
 * Data folder of the embedded control plane: `$CTL_HOME/server`. For root without CTL_HOME it is
 * /var/lib/ctl: root's steps run as an unprivileged user whose sandbox is set up as that user, so
 * the volume folders must lie below folders it may enter, which /root (0700) is not.
 */
export function localServerDir(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0 && !(env.CTL_HOME && env.CTL_HOME.trim() !== '')) return ROOT_DATA_DIR
  return join(ctlHome(env), 'server')
}
