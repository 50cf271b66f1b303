// Replicas on one machine as an operator starts them: three `ctl server start --detach`, each with its own data
// folder (server.json, admin key), on one PostgreSQL database and one --work-dir. The replica that owns a running
// run is SIGKILLed; another takes the run over (at once, as the owner's pid is gone on this machine; elsewhere when
// its lease expires), reattaches to the running step through the
// step host of the shared runs folder (the step starts once, its log is complete) and launches the next step,
// which reads the file the first one left in the run's volume (in the shared volumes folder).
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { stopServer } from '../../src/controlplane/process.js'
import { freshDatabase } from '../support/postgres.js'
import { doc, waitFor } from '../server/helpers.js'
import { numbered } from '../server/replicas.js'
import { runCli } from './helpers.js'

const LINES = 20
/** Lines printed before the gate opens. */
const BEFORE = 5
const FINAL = ['succeeded', 'failed', 'cancelled', 'killed']

const tmp = mkdtempSync(join(tmpdir(), 'ctl-cli-workdir-'))
// Under root steps run as nobody, who must pass through the folder above the work folder to reach a volume.
chmodSync(tmp, 0o711)
const workDir = join(tmp, 'work')
// One master key for the fleet, given in the environment.
const env = { CTL_HOME: join(tmp, 'home'), CTL_MASTER_KEY: randomBytes(32).toString('base64'), CTL_APIKEY: '' }
const dataDirs = ['a', 'b', 'c'].map((n) => join(tmp, n))
let storeUrl = ''
let clients: CtlClient[] = []

async function start(dataDir: string, output: 'json' | 'text'): Promise<string> {
  const args = ['server', 'start', '--detach', '--data-dir', dataDir, '--port', '0', '--store', storeUrl, '--work-dir', workDir]
  const r = await runCli(output === 'json' ? [...args, '-o', 'json'] : args, { env })
  if (r.code !== 0) throw new Error(`server start: ${r.stderr}`)
  if (output === 'json') {
    const out = JSON.parse(r.stdout) as { url: string; dataDir: string; workDir: string }
    expect(out).toMatchObject({ dataDir, workDir })
    return out.url
  }
  // The text says where runs and volumes are, as they are not in the data folder.
  const lines = r.stdout.trim().split('\n')
  expect(lines[0]).toMatch(/^control plane running at http:\/\/127\.0\.0\.1:\d+ \(pid \d+, data in /)
  expect(lines.slice(1)).toEqual([`runs and volumes in ${workDir}`])
  return /at (\S+) /.exec(lines[0]!)![1]!
}

beforeAll(async () => {
  storeUrl = await freshDatabase()
  // The first start makes the store's schema and the admin; the other two join it together.
  const urls = [await start(dataDirs[0]!, 'text')]
  urls.push(...(await Promise.all(dataDirs.slice(1).map((d) => start(d, 'json')))))
  const apiKey = readFileSync(join(dataDirs[0]!, 'admin.apikey'), 'utf8').trim()
  clients = urls.map((baseUrl) => new CtlClient({ baseUrl, apiKey }))
}, 180_000)

afterAll(async () => {
  for (const dir of dataDirs) await stopServer(dir, 10_000).catch(() => undefined)
  rmSync(tmp, { recursive: true, force: true })
})

describe('three replicas with their own data folders and one --work-dir', () => {
  it('the owner of a running run is SIGKILLed: another finishes it, the step started once, its log complete, the next step reads its volume file', async () => {
    const script = [
      'echo "$CTL_RUN_ID" >> /marks/starts',
      `i=1; while [ $i -le ${BEFORE} ]; do echo "$CTL_RUN_ID line $i"; i=$((i+1)); done`,
      'while [ ! -e /marks/go ]; do sleep 0.05; done',
      `while [ $i -le ${LINES} ]; do echo "$CTL_RUN_ID line $i"; i=$((i+1)); sleep 0.02; done`,
      'echo "left by $CTL_RUN_ID" > /marks/result',
    ].join('\n')
    const volume = { name: 'marks', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } }
    const uses = { volumes: [{ id: 'marks', directory: '/marks' }] }
    const wf = {
      name: 'handover', version: 'v2alpha', type: 'workflow',
      spec: {
        dag: [
          { name: 'work', spec: { use: uses, stack: 'script', stackSpec: { interpreter: 'sh', script } } },
          { name: 'read', depends: ['work'], spec: { use: uses, stack: 'script', stackSpec: { interpreter: 'sh', script: 'cat /marks/result' } } },
        ],
      },
    }
    const [first] = clients as [CtlClient, CtlClient, CtlClient]
    await first.apply('public', [doc(volume), doc(wf, 'handover.yaml', 1)])
    const ref = { workspace: 'public', type: 'workflow', name: 'handover' }
    const [run] = await waitFor('the applied run', () => first.runs(ref), (runs) => runs.length === 1)
    const id = run!.id
    const running = await waitFor('the first step running', () => first.run(id),
      (d) => FINAL.includes(d.run.state) || d.steps.some((s) => s.step === 'work' && s.state === 'running'), 60_000)
    const work = running.steps.find((s) => s.step === 'work')
    expect([work?.state, work?.message]).toEqual(['running', undefined])
    await waitFor('the first lines stored', () => first.logPage(id, { step: 'work' }), (lines) => lines.length >= BEFORE, 60_000)

    // The replica holding the run's lease, by the replicas API (any replica answers for all).
    const { replicas } = await first.replicas()
    const owner = replicas.find((r) => r.runsOwned > 0)
    expect(owner, JSON.stringify(replicas)).toBeDefined()
    expect(replicas.filter((r) => r.runsOwned > 0)).toHaveLength(1)
    const ownerIndex = clients.findIndex((c) => c.baseUrl === owner!.url)
    expect(ownerIndex).toBeGreaterThanOrEqual(0)
    process.kill(owner!.pid, 'SIGKILL')
    await waitFor('the owner to be gone', async () => { try { process.kill(owner!.pid, 0); return false } catch { return true } }, (gone) => gone)
    const survivor = clients[(ownerIndex + 1) % clients.length]!

    // Open the gate: the step goes on while nobody follows it, then under the replica that adopted it.
    writeFileSync(join(workDir, 'volumes', 'public', 'marks', 'go'), '')
    const done = await waitFor('the run to end under another replica', () => survivor.run(id), (d) => FINAL.includes(d.run.state), 120_000)
    expect(done.run.state, JSON.stringify(done.steps)).toBe('succeeded')
    expect(done.steps.map((s) => [s.step, s.attempt, s.state]).sort()).toEqual([['read', 1, 'succeeded'], ['work', 1, 'succeeded']])
    expect(readFileSync(join(workDir, 'volumes', 'public', 'marks', 'starts'), 'utf8').trim().split('\n')).toEqual([id])
    const log = await survivor.logPage(id, { step: 'work' })
    expect(log.map((l) => l.text)).toEqual(numbered(id, LINES))
    expect(log.map((l) => l.seq)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1))
    // Launched by the adopter, from the shared volumes folder: it sees what the first step wrote.
    expect((await survivor.logPage(id, { step: 'read' })).map((l) => l.text)).toEqual([`left by ${id}`])
    // The adopter gave the lease back once the run ended.
    await waitFor('the lease to go', () => survivor.replicas(), (r) => r.replicas.every((x) => x.runsOwned === 0))
    // Runs and volumes are in the work folder, none in any data folder.
    for (const dir of dataDirs) expect([existsSync(join(dir, 'runs')), existsSync(join(dir, 'volumes'))], dir).toEqual([false, false])
  }, 240_000)
})
