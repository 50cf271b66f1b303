// Steps that `runtime retry` carries over keep the run that ran them (keptFrom), through retries of
// retries, and their log read through the new run is that run's: once, whole, also when followed and
// when the whole run's log is read. Readable by exactly those who may read the new run's logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CtlClient } from '../../src/client/client.js'
import type { Role } from '../../src/api/types.js'
import type { LogLineRecord } from '../../src/store/types.js'
import { doc, rejection, startTestServer, waitForRunEnd, type TestServer } from './helpers.js'

const ref = { workspace: 'public', type: 'workflow', name: 'kept' }

// `gate` fails in the first two runs (one attempt each) and succeeds in the third; `prep` succeeds once and is kept.
const manifests = [
  { name: 'kept-state', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } },
  {
    name: 'kept', version: 'v2alpha', type: 'workflow',
    spec: {
      dag: [
        { name: 'prep', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo prep line; echo prep err >&2' } } },
        {
          name: 'gate', depends: ['prep'],
          spec: {
            use: { volumes: [{ id: 'kept-state', directory: '/state', readOnly: false }] },
            stack: 'script',
            stackSpec: {
              interpreter: 'sh',
              script: 'if [ -f /state/two ]; then echo gate open; exit 0; fi; if [ -f /state/one ]; then touch /state/two; else touch /state/one; fi; echo gate shut; exit 7',
            },
          },
        },
      ],
    },
  },
]

const texts = (lines: LogLineRecord[]): string[] => lines.map((l) => l.text)

describe('logs of steps kept by runtime retry', () => {
  let s: TestServer
  let first: string
  let second: string
  let third: string
  beforeAll(async () => {
    s = await startTestServer()
    await s.client.apply('public', manifests.map((m) => doc(m)))
    const [run] = await s.client.runs(ref)
    first = run!.id
    expect((await waitForRunEnd(s.client, first)).run.state).toBe('failed')
    second = (await s.client.retry(ref)).id
    expect((await waitForRunEnd(s.client, second)).run.state).toBe('failed')
    third = (await s.client.retry(ref)).id
    expect((await waitForRunEnd(s.client, third)).run.state).toBe('succeeded')
  }, 60_000)
  afterAll(async () => {
    await s?.stop()
  })

  it('a kept step names the run that ran it, also when the run retried had kept it itself', async () => {
    const prepOf = async (runId: string) => (await s.client.run(runId)).steps.find((x) => x.step === 'prep')!
    expect(await prepOf(first)).not.toHaveProperty('keptFrom')
    expect(await prepOf(second)).toMatchObject({ state: 'succeeded', keptFrom: first, message: `kept from ${first}` })
    expect(await prepOf(third)).toMatchObject({ state: 'succeeded', keptFrom: first })
    expect((await s.client.run(third)).steps.find((x) => x.step === 'gate')).not.toHaveProperty('keptFrom')
  })

  it('the log of a kept step is the lines of the run that ran it: by step, for the whole run, and followed', async () => {
    const original = await s.client.logPage(first, { step: 'prep' })
    expect(texts(original).sort()).toEqual(['prep err', 'prep line'])
    const kept = await s.client.logPage(third, { step: 'prep' })
    expect(kept).toEqual(original)
    expect(kept.every((l) => l.runId === first)).toBe(true)
    expect(await s.client.logPage(third, { step: 'prep', attempt: 1, tail: 1 })).toEqual(original.slice(-1))
    // The whole run: the kept step's lines (from the first run) and the gate's own (this run's), each once.
    const whole = texts(await s.client.logPage(third))
    expect(whole.filter((t) => t.startsWith('prep')).sort()).toEqual(['prep err', 'prep line'])
    expect(whole).toContain('gate open')
    expect(whole).not.toContain('gate shut')
    const followed: LogLineRecord[] = []
    for await (const batch of s.client.logs(third, { step: 'prep', follow: true })) followed.push(...batch)
    expect(followed).toEqual(original)
    const followedRun: string[] = []
    for await (const batch of s.client.logs(third, { follow: true })) followedRun.push(...texts(batch))
    expect(followedRun.sort()).toEqual(whole.sort())
  })

  it('is readable by exactly those who may read the new run\'s logs (the same workflow)', async () => {
    async function addUser(id: string, bindings: { role: Role; workspace?: string }[]): Promise<CtlClient> {
      await s.client.createUser({ id, name: `Test ${id}`, type: 'person' })
      for (const b of bindings) await s.client.addTag(id, { tag: `roles:id:${b.role}`, ...(b.workspace ? { workspace: b.workspace } : {}) })
      const key = await s.client.createApiKey(id, { name: 'kept-logs' })
      return new CtlClient({ baseUrl: s.plane.url, apiKey: key.token })
    }
    // data-dev may read logs of others' workflows in its workspace; a viewer may not; nor may a user with no binding.
    const users = {
      dev: await addUser('u-kept-dev', [{ role: 'data-dev', workspace: 'public' }]),
      viewer: await addUser('u-kept-viewer', [{ role: 'viewer', workspace: 'public' }]),
      nobody: await addUser('u-kept-nobody', []),
    }
    const outcome = async (c: CtlClient, runId: string, step?: string): Promise<string> => {
      try {
        return texts(await c.logPage(runId, step ? { step } : {})).sort().join('|')
      } catch (err) {
        return (await rejection(Promise.reject(err))).code
      }
    }
    const original = texts(await s.client.logPage(first, { step: 'prep' })).sort().join('|')
    expect(await outcome(users.dev, third, 'prep')).toBe(original)
    expect(await outcome(users.dev, third, 'gate')).toBe('gate open')
    for (const c of [users.viewer, users.nobody]) {
      // Refused for the kept step exactly as for the new run's own step and for the run that ran it.
      expect(await outcome(c, third, 'prep')).toBe('E_FORBIDDEN')
      expect(await outcome(c, third, 'gate')).toBe('E_FORBIDDEN')
      expect(await outcome(c, third)).toBe('E_FORBIDDEN')
      expect(await outcome(c, first, 'prep')).toBe('E_FORBIDDEN')
    }
  })
})
