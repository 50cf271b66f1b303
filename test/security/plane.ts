// Control planes for the sandbox tests: one in this process (root in CI) and one started as an
// ordinary user, a separate process of the built CLI under uid 65534 (when this process is root;
// otherwise it already is an ordinary user) whose data folder that user owns.
import { spawn, type ChildProcess } from 'node:child_process'
import { chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CtlClient } from '../../src/client/client.js'
import { readServerInfo } from '../../src/controlplane/process.js'
import { defaultMasterKeyFile } from '../../src/secrets/master-key.js'
import { cliEntry } from '../cli/helpers.js'
import { startTestServer, waitFor } from '../server/helpers.js'

export interface Plane {
  client: CtlClient
  url: string
  dataDir: string
  /** Host uid of the control plane's process. */
  uid: number
  /** Its master key file (outside the data folder). */
  masterKeyFile: string
  stop(): Promise<void>
}

export const isRoot = process.getuid?.() === 0
/** The ordinary user of the second control plane (nobody). */
export const ORDINARY_UID = 65534

export async function startRootPlane(): Promise<Plane> {
  const t = await startTestServer()
  return { client: t.client, url: t.plane.url, dataDir: t.dataDir, uid: 0, masterKeyFile: defaultMasterKeyFile(t.dataDir), stop: () => t.stop() }
}

export async function startUserPlane(): Promise<Plane> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-sandbox-user-'))
  const home = join(dataDir, 'home')
  mkdirSync(home)
  const ids = isRoot ? { uid: ORDINARY_UID, gid: ORDINARY_UID } : {}
  if (isRoot) for (const d of [dataDir, home]) chownSync(d, ORDINARY_UID, ORDINARY_UID)
  const logFile = join(dataDir, 'server.log')
  const log = openSync(logFile, 'a', 0o600)
  if (isRoot) chownSync(logFile, ORDINARY_UID, ORDINARY_UID)
  const args = [cliEntry, 'server', 'start', '--foreground', '--data-dir', dataDir, '--port', '0']
  const child: ChildProcess = spawn(process.execPath, args, { ...ids, cwd: dataDir, stdio: ['ignore', log, log], env: { ...process.env, HOME: home, CTL_HOME: home } })
  closeSync(log)
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const info = await waitFor(
    'the ordinary-user control plane to answer',
    async () => {
      if (exited !== undefined) throw new Error(`the control plane exited with ${exited}: ${readFileSync(logFile, 'utf8').slice(-2000)}`)
      const i = readServerInfo(dataDir)
      if (!i) return undefined
      const ok = await fetch(`${i.url}/healthz`).then((r) => r.ok, () => false)
      return ok ? i : undefined
    },
    (i) => i !== undefined,
  )
  const token = readFileSync(join(dataDir, 'admin.apikey'), 'utf8').trim()
  return {
    client: new CtlClient({ baseUrl: info!.url, apiKey: token }),
    url: info!.url,
    dataDir,
    uid: isRoot ? ORDINARY_UID : (process.getuid?.() ?? -1),
    masterKeyFile: defaultMasterKeyFile(dataDir, { ...process.env, CTL_HOME: home }),
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM')
        await ended
      }
      // Removing the data folder also ends its step host (it watches its state folder).
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
