// File modes at rest: after a control plane ran a workflow (secret projected as env var and file, a
// volume written to, logs stored), nothing under the data folder, nor the master key and its folder,
// is readable by group or others, and no folder is open to them — whatever the umask the test runs with.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { defaultMasterKeyFile } from '../../src/secrets/master-key.js'
import { runForeground, SERVER_INFO_FILE } from '../../src/controlplane/process.js'
import { doc, waitFor, waitForRunEnd } from './helpers.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-modes-'))
// Like /var/lib: others may enter the data folder's parent (a root control plane's steps run as nobody and must reach their volume).
fs.chmodSync(root, 0o711)
/** Under a root control plane ctl opens the folders above a volume to the step user's group, for entering only (0710). */
const stepGid = process.getuid?.() === 0 ? 65534 : undefined
const saved = process.umask(0o022)
afterAll(() => {
  process.umask(saved)
  fs.rmSync(root, { recursive: true, force: true })
})

/** Every path under `dir` (itself included) whose mode lets group or others in, but for a folder the step user's group may only enter. */
function openToOthers(dir: string): string[] {
  const out: string[] = []
  const walk = (p: string): void => {
    const st = fs.lstatSync(p)
    if (st.isSymbolicLink()) return
    const enterOnly = st.isDirectory() && (st.mode & 0o077) === 0o010 && st.gid === stepGid
    if ((st.mode & 0o077) !== 0 && !enterOnly) out.push(`${path.relative(dir, p) || '.'} ${(st.mode & 0o777).toString(8)}`)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e))
  }
  walk(dir)
  return out
}

function listAll(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      out.push(path.relative(dir, p))
      if (e.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return out
}

describe('modes at rest', () => {
  it('after a run, no file under the data folder is group/other readable and no folder group/other accessible', async () => {
    const dataDir = path.join(root, 'data')
    const server = await runForeground({ dataDir, port: 0, logFile: path.join(dataDir, 'requests.log') })
    try {
      const client = new CtlClient({ baseUrl: server.url, apiKey: server.adminToken! })
      const secret = { name: 'app', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { TOKEN: 'modes-token-1234' } } }
      const volume = { name: 'shared', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
      const wf = {
        name: 'modes', version: 'v2alpha', type: 'workflow',
        spec: {
          use: {
            projection: {
              secrets: [{ id: 'app', contextAlias: 'app' }],
              projections: { envVars: [{ key: 'TOKEN', value: '{{.secrets.app.TOKEN}}' }], files: [{ name: 'token.txt', value: '{{.secrets.app.TOKEN}}' }] },
            },
          },
          dag: [{
            name: 'write',
            spec: {
              use: { volumes: [{ id: 'shared', directory: '/shared' }] },
              stack: 'script',
              stackSpec: { interpreter: 'sh', script: 'echo "token $TOKEN"; echo data > /shared/out.txt; mkdir -p /shared/sub; echo more > /shared/sub/f; echo done; sleep 60' },
            },
          }],
        },
      }
      await client.apply('public', [doc(secret), doc(volume, 'modes.yaml', 1), doc(wf, 'modes.yaml', 2)])
      const [run] = await client.runs({ workspace: 'public', type: 'workflow', name: 'modes' })
      // While the step runs (it sleeps after its last line): its attempt folder, log file and projection files exist.
      await waitFor('the step\'s last line', async () => (await client.logPage(run!.id, { step: 'write' })).map((l) => l.text), (t) => t.includes('done'))
      const files = listAll(dataDir)
      // What the walk must have covered: the database with its WAL, request logs, pid file, admin key, attempt folders and logs, the volume.
      for (const name of ['ctl.db', 'ctl.db-wal', 'requests.log', SERVER_INFO_FILE, 'admin.apikey']) expect(files).toContain(name)
      expect(files.some((f) => /^runs\/\.logs\/[^/]+\+write\.\d+\.ndjson$/.test(f))).toBe(true)
      expect(files.some((f) => f.startsWith('volumes/') && f.endsWith('sub/f'))).toBe(true)
      expect(openToOthers(dataDir)).toEqual([])
      const keyFile = defaultMasterKeyFile(dataDir)
      expect(openToOthers(path.dirname(keyFile))).toEqual([])
      await client.stop({ workspace: 'public', type: 'workflow', name: 'modes' }, run!.id)
      expect((await waitForRunEnd(client, run!.id)).run.state).toBe('killed')
      expect(openToOthers(dataDir)).toEqual([])
    } finally {
      await server.stop()
    }
    expect(openToOthers(dataDir)).toEqual([])
  })
})
