// A ctl inside a step talks to the control plane that runs it: every step gets CTL_SERVER (the control plane's
// URL as steps reach it) and CTL_WORKSPACE, and the key comes from a secret projected as CTL_APIKEY, as a
// DataOS CLI stack gets its API key. Real control plane, local runtime, the real ctl in the step.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../cli/helpers.js'
import { doc, startTestServer, waitFor, waitForRunEnd, type TestServer } from './helpers.js'

describe('ctl inside a step', () => {
  let s: TestServer

  beforeAll(async () => {
    s = await startTestServer()
  })
  afterAll(async () => {
    await s?.stop()
  })

  it('lists the workspace it runs in, with the key the secret projects; the key never reaches the log', async () => {
    const secret = { name: 'ctl-key', version: 'v1', type: 'secret', secret: { type: 'key-value', acl: 'r', data: { APIKEY: s.token } } }
    const wf = {
      name: 'talks-back', version: 'v2alpha', type: 'workflow',
      spec: {
        dag: [{
          name: 'list',
          spec: {
            use: { projection: { secrets: [{ id: 'ctl-key', contextAlias: 'ctl' }], projections: { envVars: [{ key: 'CTL_APIKEY', value: '{{.secrets.ctl.APIKEY}}' }] } } },
            stack: 'ctl',
            stackSpec: { arguments: ['resource', 'get', '-t', 'workflow'] },
          },
        }],
      },
    }
    await s.client.apply('public', [doc(secret, 'key.yaml'), doc(wf, 'wf.yaml')])
    const [run] = await waitFor('a run', () => s.client.runs({ workspace: 'public', type: 'workflow', name: 'talks-back' }), (r) => r.length > 0)
    const end = await waitForRunEnd(s.client, run!.id)
    const lines = (await s.client.logPage(run!.id)).map((l) => l.text)
    expect(end.run.state, lines.join('\n')).toBe('succeeded')
    // `resource get` inside the step listed this very workflow, running.
    expect(lines.some((l) => /talks-back\s.*workflow/.test(l))).toBe(true)
    expect(lines.join('\n')).not.toContain(s.token)
  }, 60_000)

  it('gives every step CTL_SERVER (with the local runtime: its own URL, on loopback) and CTL_WORKSPACE', async () => {
    const wf = {
      name: 'prints-server', version: 'v2alpha', type: 'workflow',
      spec: { dag: [{ name: 'show', spec: { stack: 'script', stackSpec: { interpreter: 'sh', script: 'echo "server=$CTL_SERVER workspace=$CTL_WORKSPACE"' } } }] },
    }
    await s.client.apply('public', [doc(wf, 'p.yaml')])
    const [run] = await waitFor('a run', () => s.client.runs({ workspace: 'public', type: 'workflow', name: 'prints-server' }), (r) => r.length > 0)
    await waitForRunEnd(s.client, run!.id)
    expect((await s.client.logPage(run!.id)).map((l) => l.text)).toContain(`server=${s.plane.url} workspace=public`)
  }, 60_000)

  it('inside a step without CTL_SERVER, refuses to start an embedded control plane of its own, saying why', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ctl-step-home-'))
    try {
      const r = await runCli(['resource', 'get', '-t', 'workflow'], { env: { CTL_HOME: home, CTL_RUN_ID: 'r-in-a-step', CTL_SERVER: '' } })
      expect(r.code).toBe(5)
      expect(r.stderr).toContain('inside a step ctl reaches the control plane through CTL_SERVER')
      expect(existsSync(join(home, 'server'))).toBe(false)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })
})
