// Records are plain data in every area: own data properties only (no getters, no class), optional
// fields absent rather than undefined, null only where the contract says (a null workspace), so
// they compare, serialize and outlive the store the same on every implementation.
import { describe, expect, it } from 'vitest'
import { seedRun, type StoreHarness } from './harness.js'

/** Where null is a value of the contract (instance-level resources, tenant-wide bindings). */
const NULLABLE = new Set(['workspace'])
/** Store times: ISO-8601 UTC with milliseconds, so they sort as text everywhere. */
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
/** Fields holding the user's JSON as given (nulls and all): checked as values, not walked. */
const PAYLOAD = new Set(['manifest', 'params', 'detail', 'runtimeHandle', 'instance'])

function problemsOf(value: unknown, at: string, out: string[]): void {
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    value.forEach((v, i) => problemsOf(v, `${at}[${i}]`, out))
    return
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) out.push(`${at}: not a plain object`)
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
    if (!('value' in d)) out.push(`${at}.${key}: an accessor`)
    else if (d.value === undefined) out.push(`${at}.${key}: undefined (leave it out)`)
    else if (d.value === null && !NULLABLE.has(key) && !PAYLOAD.has(key)) out.push(`${at}.${key}: null (leave it out)`)
    else if ((key.endsWith('At') || key === 'time') && (typeof d.value !== 'string' || !ISO_MS.test(d.value))) out.push(`${at}.${key}: ${String(d.value)} is not ISO-8601 UTC with milliseconds`)
    else if (!PAYLOAD.has(key)) problemsOf(d.value, `${at}.${key}`, out)
  }
}

export function plainContract(h: StoreHarness): void {
  describe('records are plain data', () => {
    it('in every area', async () => {
      const store = await h.store()
      const { resource, run, steps } = await seedRun(store)
      await store.applyResource({ workspace: null, type: 'stack', name: 'alpha', version: 'v1', manifest: { n: null }, owner: 'a' })
      await store.appendLogs(steps[0]!.id, [{ time: '2024-05-01T10:00:00.000Z', stream: 'stdout', text: 'x' }], 1)
      await store.putSchedule({ resourceId: resource.id, revision: 1 })
      const bf = await store.createBackfill({ resourceId: resource.id, trigger: 'backfill', parallel: 1, createdBy: 'a', times: ['2024-01-01T00:00:00.000Z'] })
      await store.createUser({ id: 'u', name: 'U', type: 'person' })
      await store.createApiKey({ userId: 'u', name: 'k', hash: 'h'.repeat(64) })
      await store.addRoleBinding({ userId: 'u', role: 'viewer', workspace: null, createdBy: 'a' })
      await store.addGrant({ resourceId: resource.id, userId: 'u', permission: 'read', grantedBy: 'a' })
      await store.appendAudit({ actor: 'a', action: 'x', target: 't', result: 'ok' })
      await store.heartbeatReplica({ id: 'r-1', host: 'h', pid: 1, version: 'v', startedAt: '2024-05-01T10:00:00.000Z' }, '2024-05-01T10:00:00.000Z')
      await store.acquireRunLease(run.id, 'r-1', '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:15.000Z')
      const records: Record<string, unknown> = {
        resource: await store.getResourceById(resource.id),
        listed: await store.listResources({ allWorkspaces: true }),
        summaries: await store.listResourceSummaries({ allWorkspaces: true }),
        revisions: await store.listRevisions(resource.id),
        run: await store.getRun(run.id),
        runs: await store.listRuns({}),
        latest: await store.listLatestRuns([resource.id]),
        steps: await store.listStepRuns(run.id),
        logs: await store.readLogs({ runId: run.id }),
        schedules: await store.listSchedules(),
        backfill: await store.getBackfill(bf.id),
        times: await store.listBackfillTimes(bf.id),
        users: await store.listUsers(),
        keys: await store.listApiKeys('u'),
        found: await store.findApiKeyByHash('h'.repeat(64)),
        bindings: await store.listRoleBindings({}),
        workspaces: await store.listWorkspaces(),
        grants: await store.listGrants({}),
        audit: await store.listAudit({}),
        replicas: await store.listReplicas(),
        leases: await store.listRunLeases(),
      }
      const problems: string[] = []
      for (const [name, value] of Object.entries(records)) {
        expect(value, name).toBeDefined()
        problemsOf(value, name, problems)
      }
      expect(problems).toEqual([])
      expect(JSON.parse(JSON.stringify(records))).toEqual(records)
    })
  })
}
