// GET /api/v1/runs/:id/watch?changes=true: after a whole first line, lines carry only the step attempts that changed
// (changedSteps); the last line is whole. The client merges them into whole details. A change line is cut from the
// detail its full line would be: it never carries what the caller's full line would not (host details, outputs,
// secret params), which the viewer and read-grantee streams below are checked for, line by line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunDetail, StepRunRecord } from '../../src/api/types.js'
import { WatchedRun, type WatchLine } from '../../src/client/watch.js'
import { detailText, WatchLines } from '../../src/http/routes/watch-lines.js'
import { doc, startTestServer, userClient, waitForRunEnd, workflow, type TestServer } from './helpers.js'

const row = (id: string, state: string, extra: Partial<StepRunRecord> = {}): StepRunRecord =>
  ({ id, runId: 'r-1', step: id, attempt: 1, state, logOffset: 0, logSeq: 0, createdAt: '2026-01-01T00:00:00.000Z', ...extra }) as StepRunRecord
const detail = (state: string, steps: StepRunRecord[], progress = `${steps.length} steps`): RunDetail =>
  ({ run: { id: 'r-1', state } as RunDetail['run'], steps, progress })

/** The members of a line but its rows, and its rows by id. */
function split(line: string): { head: Record<string, unknown>; rows: Map<string, unknown> } {
  const { steps, changedSteps, ...head } = JSON.parse(line) as { steps?: StepRunRecord[]; changedSteps?: StepRunRecord[] }
  return { head, rows: new Map((steps ?? changedSteps ?? []).map((s) => [s.id, s])) }
}

describe('change lines (WatchLines and WatchedRun)', () => {
  it('send whole lines first and last, then only changed rows; merged, each is the detail; a change line holds nothing its full line does not', () => {
    const a = row('a', 'pending')
    const b = row('b', 'pending')
    const c = row('c', 'pending')
    const a2 = row('a', 'running', { startedAt: '2026-01-01T00:00:01.000Z', runtimeHandle: { runtime: 'local', id: 'x', data: { mode: 'bwrap' } } })
    const retry = row('a#2', 'pending', { step: 'a', attempt: 2 })
    const looks: { d: RunDetail; final?: boolean; kind: 'whole' | 'changes' | 'none' }[] = [
      { d: detail('running', [a, b, c]), kind: 'whole' },
      { d: detail('running', [a2, b, c]), kind: 'changes' },
      // The same rows again (the reader's objects), nothing else changed: no line.
      { d: detail('running', [a2, b, c]), kind: 'none' },
      // Only the run's own members changed: a change line without rows.
      { d: detail('running', [a2, b, c], 'other progress'), kind: 'changes' },
      // Every row read again (new objects, the same content): no line.
      { d: detail('running', [a2, b, c].map((r) => ({ ...r })), 'other progress'), kind: 'none' },
      // A new attempt in the middle of the rows.
      { d: detail('running', [a2, retry, b, { ...c, state: 'running' }], 'other progress'), kind: 'changes' },
      // A row gone: whole again.
      { d: detail('running', [a2, retry, b], 'other progress'), kind: 'whole' },
      { d: detail('succeeded', [{ ...a2, state: 'succeeded' }, retry, b]), final: true, kind: 'whole' },
    ]
    const changes = new WatchLines(true)
    const whole = new WatchLines(false)
    const client = new WatchedRun()
    for (const { d, final, kind } of looks) {
      const line = changes.next(d, final === true)
      const full = whole.next(d, final === true)
      if (kind === 'none') {
        expect(line).toBeUndefined()
        expect(full).toBeUndefined()
        continue
      }
      expect(full).toBe(JSON.stringify(d))
      if (kind === 'whole') expect(line).toBe(full)
      else expect(JSON.parse(line!)).toHaveProperty('changedSteps')
      // Nothing in the change line that its full line does not hold, member for member, row for row.
      const got = split(line!)
      const want = split(full!)
      expect(got.head).toEqual(want.head)
      for (const [id, r] of got.rows) expect(r).toEqual(want.rows.get(id))
      // The client's detail after the line is the detail (its attempts in the order it learnt of them).
      const merged = client.take(JSON.parse(line!) as WatchLine)
      const byId = (xs: StepRunRecord[]) => [...xs].sort((x, y) => x.id.localeCompare(y.id))
      expect({ ...merged, steps: byId(merged.steps) }).toEqual({ ...JSON.parse(full!), steps: byId(JSON.parse(full!).steps) })
    }
  })

  it('a change line before any whole one is refused; an older server\'s whole lines are taken as they are', () => {
    expect(() => new WatchedRun().take({ run: { id: 'r-1' } as RunDetail['run'], progress: '', changedSteps: [] })).toThrow(/before a whole run detail/)
    const d = detail('running', [row('a', 'running')])
    expect(new WatchedRun().take(JSON.parse(detailText(d, new WeakMap())) as WatchLine)).toEqual(d)
  })
})

describe('change lines through the server, as each caller may see the run', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
  }, 60_000)
  afterAll(async () => {
    await t?.stop()
  })

  /** Every raw line of a watch, to its end. */
  async function rawLines(token: string, runId: string, query: string): Promise<string[]> {
    const res = await fetch(`${t.plane.url}/api/v1/runs/${runId}/watch${query}`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    return (await res.text()).split('\n').filter((l) => l.trim() !== '')
  }

  it('a viewer\'s and a read grantee\'s lines, whole or changes, carry no host detail, output or secret param; the owner\'s carry them', async () => {
    const viewer = await userClient(t, 'u-watch-viewer', 'viewer')
    const reader = await userClient(t, 'u-watch-reader')
    const ref = { workspace: 'public', type: 'workflow', name: 'watched-changes' }
    const secret = 'w4tch-s3cret-value'
    const applied = await t.client.apply('public', [doc(workflow('watched-changes', {
      first: 'sleep 0.4; echo "artifact=first-output" >> "$CTL_OUTPUTS"',
      second: 'sleep 1.2; echo "artifact=second-output" >> "$CTL_OUTPUTS"',
    }, { params: [{ name: 'token', type: 'string', default: secret, secret: true }] }))])
    const runId = applied.results[0]!.runId!
    await t.client.grant(ref, { to: 'user:u-watch-reader', permission: 'read' })
    // Held while the watches open, so each of them sees the steps start, write outputs and end.
    await t.client.suspend(ref, runId)
    const watches = {
      owner: rawLines(t.token, runId, '?changes=true'),
      viewer: rawLines(viewer.token, runId, '?changes=true'),
      viewerWhole: rawLines(viewer.token, runId, ''),
      reader: rawLines(reader.token, runId, '?changes=true'),
    }
    await new Promise((r) => setTimeout(r, 300))
    await t.client.resume(ref, runId)
    const lines = Object.fromEntries(await Promise.all(Object.entries(watches).map(async ([k, p]) => [k, await p] as const)))
    await waitForRunEnd(t.client, runId)

    for (const [who, ls] of Object.entries(lines)) {
      // Whole first and last lines; change lines between them when asked for.
      expect(ls[0], who).toContain('"steps":')
      expect(ls.at(-1), who).toContain('"steps":')
      expect(ls.at(-1), who).toContain('"state":"succeeded"')
      if (who !== 'viewerWhole') expect(ls.slice(1, -1).some((l) => l.includes('"changedSteps":')), who).toBe(true)
      else expect(ls.some((l) => l.includes('"changedSteps":')), who).toBe(false)
      for (const l of ls) expect(l, who).not.toContain(secret)
    }
    const hostDetail = ['attemptDir', 'supervisorPid', 'stepPid', 'shmDir', t.dataDir]
    for (const who of ['viewer', 'viewerWhole', 'reader']) {
      for (const l of lines[who]!) for (const hidden of hostDetail) expect(l, `${who}: ${hidden}`).not.toContain(hidden)
    }
    // Outputs are for those who may read the logs: the read grantee and the owner, not the viewer.
    for (const l of [...lines.viewer!, ...lines.viewerWhole!]) expect(l).not.toContain('-output')
    expect(lines.reader!.some((l) => l.includes('first-output'))).toBe(true)
    // The owner's lines carry what the others' must not (so the checks above could fail), in change lines too.
    expect(lines.owner!.some((l) => l.includes('"changedSteps":') && l.includes('attemptDir'))).toBe(true)
    expect(lines.owner!.some((l) => l.includes('"changedSteps":') && l.includes('first-output'))).toBe(true)

    // The client merges the viewer's change lines into the detail the viewer's GET shows at the end.
    let last: RunDetail | undefined
    for await (const d of viewer.client.watchRun(runId)) last = d
    const shown = await viewer.client.run(runId)
    expect({ ...last!, steps: [...last!.steps].sort((x, y) => x.id.localeCompare(y.id)) }).toEqual({ ...shown, steps: [...shown.steps].sort((x, y) => x.id.localeCompare(y.id)) })
  }, 60_000)
})
