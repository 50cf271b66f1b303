// $CTL_HOME (default ~/.ctl) and the embedded control plane's data folder under it. Here, at the
// bottom, because the CLI (contexts, credentials) and the server (the master key's default place)
// both need them.
import { homedir } from 'node:os'
import { join } from 'node:path'

export function ctlHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CTL_HOME && env.CTL_HOME.trim() !== '' ? env.CTL_HOME : join(homedir(), '.ctl')
}

/** Data folder of the embedded control plane. */
export function localServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(ctlHome(env), 'server')
}
