// Three control planes as three real processes (`ctl server start --detach --store FILE`) on one SQLite file, the
// way several replicas share PostgreSQL: `server status` lists the three, alive, with the store's kind; a 1-second
// cron fires in all three, and every fire time makes exactly one run (20 fire times: 20 runs, not 60). Only the
// claims in the store keep the three processes' timers from each making a run of the same time.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import { stopServer } from '../../src/controlplane/process.js'
import { doc, waitFor, workflow } from '../server/helpers.js'
import { runCli } from './helpers.js'

const tmp = mkdtempSync(join(tmpdir(), 'ctl-cli-replicas-'))
const store = join(tmp, 'shared', 'ctl.db')
// One master key for the fleet, given in the environment (as the Kubernetes overlay gives it from a Secret).
const env = { CTL_HOME: join(tmp, 'home'), CTL_MASTER_KEY: randomBytes(32).toString('base64'), CTL_APIKEY: '' }
const dataDirs = ['a', 'b', 'c'].map((n) => join(tmp, n))
let urls: string[] = []
let admin: CtlClient

async function start(dataDir: string): Promise<string> {
  const r = await runCli(['server', 'start', '--detach', '--data-dir', dataDir, '--port', '0', '--store', store, '-o', 'json'], { env })
  if (r.code !== 0) throw new Error(`server start: ${r.stderr}`)
  const out = JSON.parse(r.stdout) as { url: string; store: string }
  expect(out.store).toBe(store)
  return out.url
}

beforeAll(async () => {
  // The first start makes the store and the admin; the other two join it together.
  urls = [await start(dataDirs[0]!)]
  urls.push(...(await Promise.all(dataDirs.slice(1).map(start))))
  admin = new CtlClient({ baseUrl: urls[0]!, apiKey: readFileSync(join(dataDirs[0]!, 'admin.apikey'), 'utf8').trim() })
}, 120_000)

afterAll(async () => {
  for (const dir of dataDirs) await stopServer(dir, 10_000).catch(() => undefined)
  rmSync(tmp, { recursive: true, force: true })
})

describe('three control planes on one store', () => {
  it('server status lists the three replicas, alive, and the store kind', async () => {
    // b's data folder holds no admin key (a made the admin): the key comes from the environment.
    const withKey = { ...env, CTL_APIKEY: readFileSync(join(dataDirs[0]!, 'admin.apikey'), 'utf8').trim() }
    const r = await runCli(['server', 'status', '--data-dir', dataDirs[1]!, '-o', 'json'], { env: withKey })
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as { running: boolean; store: string; self: string; replicas: { id: string; url: string; alive: boolean; runsOwned: number }[] }
    expect(report).toMatchObject({ running: true, store: 'sqlite' })
    expect(report.replicas).toHaveLength(3)
    expect(report.replicas.every((x) => x.alive)).toBe(true)
    expect(report.replicas.map((x) => x.url).sort()).toEqual([...urls].sort())
    expect(report.replicas.map((x) => x.id)).toContain(report.self)
    const text = await runCli(['server', 'status', '--data-dir', dataDirs[1]!], { env: withKey })
    expect(text.stdout).toMatch(/^running at http:\/\/127\.0\.0\.1:\d+ \(pid \d+, data in .*\)\nstore: sqlite; 3 of 3 replicas alive\nID +\| HOST +\| PID +\| URL +\| VERSION +\| STARTED +\| HEARTBEAT +\| ALIVE +\| RUNS\n/)
    expect(text.stdout).toContain(`${report.self} (this)`)
    // Without a key that may see them, the replicas are not shown, and the command still says it runs.
    const anonymous = await runCli(['server', 'status', '--data-dir', dataDirs[1]!], { env })
    expect(anonymous.code).toBe(0)
    expect(anonymous.stdout).toMatch(/\nreplicas: not shown \(missing API key/)
  })

  it('a 1-second cron over 20 fire times makes 20 runs, not 60', async () => {
    const wf = workflow('every-second', { tick: 'true' }, { schedule: { crons: ['* * * * * *'], concurrencyPolicy: 'Allow' } })
    await admin.apply('public', [doc(wf)])
    const ref = { workspace: 'public', type: 'workflow', name: 'every-second' }
    // However late this machine is, twenty fire times pass; then the schedule goes.
    const seen = await waitFor('20 scheduled runs', () => admin.runs(ref, { limit: 200 }), (runs) => runs.length >= 20, 120_000)
    await admin.delete(ref)
    expect(seen.length).toBeGreaterThanOrEqual(20)
    const all = await admin.runs(ref, { limit: 500 })
    const times = all.map((x) => x.scheduledAt)
    expect(times.every((t) => typeof t === 'string')).toBe(true)
    // Each fire time once, though three timers woke for it.
    expect(new Set(times).size).toBe(times.length)
  }, 180_000)
})
