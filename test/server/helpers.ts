// A real control plane on an ephemeral loopback port with a temp data dir, driven
// through the real client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/control-plane.js'
import { CtlClient } from '../../src/client/client.js'
import { CtlError } from '../../src/errors.js'
import type { ApplyDocument, RunDetail } from '../../src/api/types.js'
import { testStoreUrl } from '../support/store.js'

export interface TestServer {
  plane: ControlPlane
  client: CtlClient
  dataDir: string
  token: string
  stop(): Promise<void>
}

export async function startTestServer(opts: Partial<ControlPlaneOptions> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctl-server-'))
  // Its store through the tests' one way (CTL_TEST_STORE=postgres: a PostgreSQL database of its own).
  const plane = await startControlPlane({ dataDir, port: 0, storeUrl: await testStoreUrl(dataDir), ...opts })
  if (!plane.adminToken) throw new Error('first start must create the admin key')
  const client = new CtlClient({ baseUrl: plane.url, apiKey: plane.adminToken })
  return {
    plane, client, dataDir, token: plane.adminToken,
    async stop() {
      await plane.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A new user (with `role` in the public workspace, if given) and a client with an API key of its own. */
export async function userClient(t: Pick<TestServer, 'client' | 'plane'>, id: string, role?: string): Promise<{ client: CtlClient; token: string }> {
  await t.client.createUser({ id, name: `Test ${id}`, type: 'person' })
  if (role) await t.client.addTag(id, { tag: `roles:id:${role}`, workspace: 'public' })
  const { token } = await t.client.createApiKey(id)
  return { client: new CtlClient({ baseUrl: t.plane.url, apiKey: token }), token }
}

export function doc(manifest: unknown, file = 'test.yaml', index = 0): ApplyDocument {
  return { source: { file, index }, manifest }
}

/** A v2alpha workflow with one `script` step per entry. */
export function workflow(name: string, steps: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, version: 'v2alpha', type: 'workflow',
    spec: {
      dag: Object.entries(steps).map(([step, script]) => ({
        name: step, spec: { stack: 'script', stackSpec: { interpreter: 'sh', script } },
      })),
      ...extra,
    },
  }
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'killed'])

/** Polls until `check` holds (bounded; not a timing assertion). */
export async function waitFor<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs
  for (;;) {
    const value = await probe()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export function waitForRunEnd(client: CtlClient, runId: string): Promise<RunDetail> {
  return waitFor(`run ${runId} to end`, () => client.run(runId), (d) => FINAL.has(d.run.state))
}

/** The CtlError a promise rejects with; fails the test when it resolves or throws something else. */
export async function rejection(p: Promise<unknown>): Promise<CtlError> {
  try {
    await p
  } catch (err) {
    if (err instanceof CtlError) return err
    throw err
  }
  throw new Error('expected a CtlError')
}
