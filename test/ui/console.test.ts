// The console in a real Chromium against a real control plane (local runtime, bubblewrap sandbox):
// sign in, watch a 3-step run's nodes change state live, read a step's log, approve a waiting step;
// a viewer sees no action buttons and a forged action is refused. Steps wait on gate files the test
// writes, so each state is held until the DOM has shown it; nothing waits on a clock.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { doc, startTestServer, type TestServer } from '../server/helpers.js'
import { ensureBundle, launch, root, signIn } from './browser.js'

let t: TestServer
let browser: Browser

beforeAll(async () => {
  ensureBundle()
  t = await startTestServer()
  browser = await launch()
  await t.client.apply('public', [doc({ name: 'gate', version: 'v1', type: 'volume', volume: { size: '1Gi', accessMode: 'ReadWriteMany', type: 'temp' } })])
})

afterAll(async () => {
  await browser?.close()
  await t?.stop()
})

const gateDir = (): string => join(t.dataDir, 'volumes', 'public', 'gate')
const open = (gate: string): void => writeFileSync(join(gateDir(), gate), '')

/** A script step that waits (bounded) for /gate/NAME, then runs `then`. */
function gated(name: string, then: string, depends: string[] = []): Record<string, unknown> {
  return {
    name, ...(depends.length ? { depends } : {}),
    spec: {
      use: { volumes: [{ id: 'gate', directory: '/gate', readOnly: true }] },
      stack: 'script',
      stackSpec: { interpreter: 'sh', script: `i=0; while [ ! -f /gate/${name} ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 9; sleep 0.05; done; ${then}` },
    },
  }
}

const node = (page: Page, step: string) => page.locator(`svg.dag g.node[data-step="${step}"]`)
const stateOf = (page: Page, step: string, state: string) => page.locator(`svg.dag g.node[data-step="${step}"][data-state="${state}"]`).waitFor()

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  // A bound on each wait, so a stuck one names itself (a limit, not a timing assertion).
  ctx.setDefaultTimeout(20_000)
  return ctx.newPage()
}

describe('the web console', () => {
  let admin: Page

  it('signs in with an API key and lists the workspace resources', async () => {
    admin = await newPage()
    await signIn(admin, t.plane.url, t.token)
    await admin.locator('#resources tr[data-name="gate"]').waitFor()
    expect(await admin.locator('#resources thead').innerText()).toMatch(/STATUS[\s\S]*RUNTIME[\s\S]*OWNER/)
  })

  it('shows a 3-step run live: pending → running → succeeded without reload, and a step\'s log', async () => {
    await admin.locator('#filter-type').selectOption('workflow')
    await t.client.apply('public', [doc({
      name: 'three', version: 'v2alpha', type: 'workflow',
      spec: { dag: [gated('a', 'echo a done'), gated('b', 'echo b done', ['a']), gated('c', 'echo c done', ['b'])] },
    })])
    // The list is not live: filtering again re-reads it.
    await admin.locator('#filter-name').fill('three')
    await admin.getByRole('link', { name: 'three', exact: true }).click()
    await admin.locator('main.workflow[data-workflow="three"]').waitFor()
    // A marker a reload would wipe.
    await admin.evaluate('window.marker = 42')
    await stateOf(admin, 'a', 'running')
    await stateOf(admin, 'b', 'pending')
    await stateOf(admin, 'c', 'pending')
    open('a')
    await stateOf(admin, 'a', 'succeeded')
    await stateOf(admin, 'b', 'running')
    expect(await node(admin, 'c').getAttribute('data-state')).toBe('pending')
    open('b')
    await stateOf(admin, 'b', 'succeeded')
    await stateOf(admin, 'c', 'running')
    open('c')
    await stateOf(admin, 'c', 'succeeded')
    await admin.locator('#run-state', { hasText: 'succeeded' }).waitFor()
    expect(await admin.evaluate('window.marker')).toBe(42)

    await node(admin, 'b').focus()
    await admin.keyboard.press('Enter')
    await admin.locator('#node-panel[data-step="b"]').waitFor()
    await admin.locator('#node-panel .loglines', { hasText: 'b done' }).waitFor()
    await admin.locator('#node-panel .log-status[data-status="ended"]').waitFor()
  })

  it('approves a waiting step with a comment; secret params show masked, their values redacted in logs', async () => {
    await t.client.apply('public', [doc({
      name: 'release', version: 'v2alpha', type: 'workflow',
      spec: {
        params: [{ name: 'version', type: 'string', default: '2.0.1' }, { name: 'token', type: 'string', secret: true, required: true }],
        dag: [
          { name: 'build', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo "build with {{.params.token}}"' } } },
          { name: 'deploy', depends: ['build'], approval: { message: 'Deploy {{.params.version}}?' }, spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo deploy' } } },
        ],
      },
    })], { params: { token: 's3cr3t-value' } })
    await admin.goto(`${t.plane.url}/ui/w/public/release`)
    await stateOf(admin, 'deploy', 'waiting')
    await admin.locator('#runs td.params', { hasText: 'token=***' }).waitFor()
    await node(admin, 'build').click()
    await admin.locator('#node-panel .loglines', { hasText: 'build with [redacted]' }).waitFor()
    expect(await admin.content()).not.toContain('s3cr3t-value')
    await node(admin, 'deploy').click()
    await admin.locator('#node-panel .approval', { hasText: 'Deploy 2.0.1?' }).waitFor()
    await admin.locator('#node-panel .approval-comment').fill('ship it')
    await admin.locator('#node-panel button[data-action="approve"]').click()
    await stateOf(admin, 'deploy', 'succeeded')
    const runs = await t.client.runs({ workspace: 'public', type: 'workflow', name: 'release' })
    const deploy = (await t.client.run(runs[0]!.id)).steps.find((s) => s.step === 'deploy')!
    expect(deploy.approval).toMatchObject({ decision: 'approved', by: 'admin', comment: 'ship it' })
  })

  it('starts a run from the params form: declared types, defaults and required', async () => {
    await admin.goto(`${t.plane.url}/ui/w/public/release`)
    await admin.locator('main.workflow[data-perms="loaded"]').waitFor()
    const before = (await t.client.runs({ workspace: 'public', type: 'workflow', name: 'release' })).length
    await admin.locator('button[data-action="run"]').click()
    expect(await admin.locator('#param-version').inputValue()).toBe('2.0.1')
    expect(await admin.locator('#param-token').getAttribute('type')).toBe('password')
    await admin.locator('#param-version').fill('3.0.0')
    await admin.locator('#param-token').fill('another-secret')
    await admin.locator('button[data-action="run-submit"]').click()
    await admin.locator(`#runs tbody tr:nth-child(${before + 1})`).waitFor()
    await admin.locator('#runs tbody tr.current td.params', { hasText: 'version=3.0.0' }).waitFor()
    const runs = await t.client.runs({ workspace: 'public', type: 'workflow', name: 'release' })
    expect(runs[0]).toMatchObject({ trigger: 'manual', params: { version: '3.0.0', token: '***' } })
    // The new run waits for its approval: hold it, release it, stop it, from the run bar.
    await admin.locator('#run-state', { hasText: 'running' }).waitFor()
    await admin.locator('.runbar button[data-action="suspend"]').click()
    await admin.locator('#run-state', { hasText: 'suspended' }).waitFor()
    await admin.locator('.runbar button[data-action="resume"]').click()
    await admin.locator('#run-state', { hasText: 'running' }).waitFor()
    await admin.locator('.runbar button[data-action="stop"]').click()
    await admin.locator('#run-state', { hasText: /cancelled|killed/ }).waitFor()
  })

  it('shows each revision\'s manifest and a diff between two', async () => {
    await t.client.apply('public', [doc({
      name: 'three', version: 'v2alpha', type: 'workflow', description: 'second revision',
      spec: { dag: [gated('a', 'echo a done'), gated('b', 'echo b done', ['a']), gated('c', 'echo c done', ['b'])] },
    })])
    await admin.goto(`${t.plane.url}/ui/w/public/workflow/three/revisions`)
    await admin.locator('#revisions tbody tr').nth(1).waitFor()
    await admin.locator('#diff .add', { hasText: 'second revision' }).waitFor()
    await admin.locator('#rev-left').selectOption('2')
    await admin.locator('#manifest', { hasText: 'name: three' }).waitFor()
  })

  it('signs in with a one-time link: the code leaves the address bar and works once', async () => {
    const res = await fetch(`${t.plane.url}/api/v1/session/links`, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: '{}' })
    const { url } = await res.json() as { url: string }
    const page = await newPage()
    await page.goto(url)
    await page.locator('#user').waitFor()
    expect(page.url()).not.toContain('code=')
    const again = await newPage()
    await again.goto(url)
    await again.locator('.signin .error').waitFor()
    await again.locator('#apikey').waitFor()
    await page.context().close()
    await again.context().close()
  })

  it('writes screenshots of the workflow page, light and dark', async () => {
    const script = (text: string) => ({ stack: 'script', stackSpec: { interpreter: 'sh', script: text } })
    await t.client.apply('public', [doc({
      name: 'pipeline', version: 'v2alpha', type: 'workflow',
      spec: {
        params: [{ name: 'environment', type: 'string', enum: ['staging', 'production'], default: 'staging' }],
        dag: [
          { name: 'extract', spec: script('echo "artifact=data.tar" >> "$CTL_OUTPUTS"; echo extracted 3 files') },
          { name: 'shard', depends: ['extract'], forEach: { items: "['a.csv', 'b.csv', 'c.csv']" }, spec: script('echo "{{.item}}"') },
          { name: 'test', depends: ['extract'], matrix: { axes: { os: ['debian', 'alpine'] } }, spec: script('echo "{{.matrix.os}}"') },
          { name: 'load', depends: ['shard', 'test'], spec: script('echo loaded') },
          { name: 'report', depends: ['load'], spec: script('echo report') },
        ],
      },
    })])
    const dir = join(root, 'test', 'artifacts')
    mkdirSync(dir, { recursive: true })
    await admin.goto(`${t.plane.url}/ui/w/public/pipeline`)
    await stateOf(admin, 'report', 'succeeded')
    await admin.locator('svg.dag g.node[data-step="shard"] .toggle').click()
    await node(admin, 'shard-1').waitFor()
    await node(admin, 'extract').click()
    await admin.locator('#node-panel .loglines', { hasText: 'extracted 3 files' }).waitFor()
    await admin.emulateMedia({ colorScheme: 'light' })
    await admin.screenshot({ path: join(dir, 'workflow-light.png') })
    await admin.emulateMedia({ colorScheme: 'dark' })
    expect(await admin.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(18, 21, 28)')
    await admin.screenshot({ path: join(dir, 'workflow-dark.png') })
  })

  it('a viewer sees no action buttons, and a forged action from the page is refused', async () => {
    await t.client.createUser({ id: 'val', name: 'Val Viewer', type: 'person' })
    await t.client.addTag('val', { tag: 'roles:id:viewer', workspace: 'public' })
    const { token } = await t.client.createApiKey('val')
    const viewer = await newPage()
    await signIn(viewer, t.plane.url, token, '/ui/w/public/three')
    await viewer.locator('main.workflow[data-perms="loaded"]').waitFor()
    await stateOf(viewer, 'c', 'succeeded')
    await node(viewer, 'a').click()
    await viewer.locator('#node-panel[data-step="a"]').waitFor()
    expect(await viewer.locator('[data-action]').count()).toBe(0)

    const ref = { workspace: 'public', type: 'workflow', name: 'three' }
    const before = (await t.client.runs(ref)).length
    // With the viewer's own session and CSRF token: only authorization can refuse it.
    const forged = await viewer.evaluate(async () => {
      const s = await (await fetch('/api/v1/session')).json() as { csrfToken: string }
      const res = await fetch('/api/v1/workspaces/public/resources/workflow/three/runs', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: '{}',
      })
      return { status: res.status, body: await res.json() as { error?: { code?: string } } }
    })
    expect(forged.status).toBe(403)
    expect(forged.body.error?.code).toBe('E_FORBIDDEN')
    expect(await t.client.runs(ref)).toHaveLength(before)
  })
})
