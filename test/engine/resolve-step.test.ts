// One resolveStep() (src/stack/resolve.ts): a step that does not fit its stack (or names an unknown stack or
// compute) fails with the same error through the dry run and at launch, and the engine's apply check says so too.
import { afterEach, describe, expect, it } from 'vitest'
import { createStoreLauncher } from '../../src/engine/index.js'
import { resolveDryRunWorkflow } from '../../src/engine/dry-run.js'
import { Catalog } from '../../src/stack/catalog.js'
import { StackRegistry } from '../../src/stack/registry.js'
import { heldStackParts } from '../../src/stack/stack-part.js'
import { InMemorySecretProvider } from '../../src/projection/index.js'
import { CtlError } from '../../src/errors.js'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { harness, workflow, type Harness } from './support.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(CtlError)
  return { code: (err as CtlError).code, message: (err as CtlError).message }
}

const bad: Record<string, (wf: WorkflowResource) => void> = {
  'a stackSpec that does not fit the stack': (wf) => {
    wf.workflow.dag[0]!.spec.stackSpec = { interpreter: 'sh', script: 'true', colour: 'red' }
  },
  'an unknown stack version': (wf) => {
    wf.workflow.dag[0]!.spec.stack = { name: 'script', version: '9.9' }
  },
  'an unknown compute': (wf) => {
    wf.workflow.dag[0]!.spec.compute = 'gpu-large'
  },
}

describe('resolveStep: one path for dry run and launch', () => {
  for (const [what, spoil] of Object.entries(bad)) {
    it(`${what}: the same error through the dry run and at launch`, async () => {
      h = await harness({ start: false })
      const wf = workflow('bad', [{ name: 'only', script: 'true' }])
      spoil(wf)
      const dry = await failure(resolveDryRunWorkflow(wf, {}, { catalog: await Catalog.fromStore(h.store), secrets: new InMemorySecretProvider(), workspace: 'public' }))

      const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'bad', version: 'v2alpha', manifest: wf, owner: 'alice' })
      const { run } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['only'] })
      const launcher = createStoreLauncher({ store: h.store, dataDir: h.dir })
      const launch = await failure(launcher.prepare({ run, resource, workflow: wf }, wf.workflow.dag[0]!, 1))

      expect(launch).toEqual(dry)
      expect(dry.message).toMatch(/^step "only": /)
      expect(await launcher.check(wf, 'public')).toEqual([dry.message])
    })
  }
})

describe('launch: the stack part of a step as stored is reused, never one with run values in it', () => {
  it('a step rendered with run values (a param may be secret) leaves nothing behind; a stored step is kept', async () => {
    h = await harness({ start: false })
    const script = StackRegistry.builtin().resolve({ name: 'script' })!
    const wf = workflow('values', [{ name: 'only', script: 'echo {{ .params.token }}' }, { name: 'plain', script: `echo plain-${Date.now()}` }])
    const { resource } = await h.store.applyResource({ workspace: 'public', type: 'workflow', name: 'values', version: 'v2alpha', manifest: wf, owner: 'alice' })
    const { run } = await h.store.createRun({ resourceId: resource.id, revision: 1, trigger: 'manual', steps: ['only', 'plain'] })
    const launcher = createStoreLauncher({ store: h.store, dataDir: h.dir })
    const before = heldStackParts(script)
    const launch = await launcher.prepare({ run, resource, workflow: wf }, wf.workflow.dag[0]!, 1, { params: { token: 'tok-s3cret' }, steps: {} })
    expect(launch.configData.script).toBe('echo tok-s3cret')
    expect(heldStackParts(script)).toBe(before)
    await launcher.prepare({ run, resource, workflow: wf }, wf.workflow.dag[1]!, 1)
    expect(heldStackParts(script)).toBe(before + 1)
  })
})
