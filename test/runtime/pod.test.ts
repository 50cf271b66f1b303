// Reading a Pod the Kubernetes way: $(VAR) expansion, env order, volume items, mount-path rewriting.

import { describe, expect, it } from 'vitest'
import { StartProblem, expandVars, planStep } from '../../src/runtime/local/pod.js'
import { pathRewriter } from '../../src/runtime/local/plain.js'
import { launch, pod } from './helpers.js'

describe('expandVars', () => {
  const vars: Record<string, string> = { A: 'x', EMPTY: '' }
  const look = (n: string) => vars[n]
  it.each([
    ['$(A)', 'x'],
    ['pre-$(A)-post', 'pre-x-post'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$x'],
    ['$(B)', '$(B)'],
    ['$(EMPTY)!', '!'],
    ['$A', '$A'],
    ['$(A', '$(A'],
    ['cost: 5$', 'cost: 5$'],
    ['$$', '$'],
  ])('%s → %s', (input, out) => {
    expect(expandVars(input, look)).toBe(out)
  })
})

describe('planStep', () => {
  it('applies envFrom first, then env in order, each value expanded with what came before', () => {
    const p = pod({
      command: ['run', '$(B)'],
      envFrom: [{ secretRef: { name: 's' } }],
      env: [
        { name: 'A', value: 'a-$(FROM_SECRET)' },
        { name: 'B', value: '$(A)/$(LATER)' },
        { name: 'LATER', value: 'l' },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 's', key: 'absent', optional: true } } },
      ],
    })
    const plan = planStep(launch(p, { secretData: { FROM_SECRET: 'sv1' } }), '/bin', () => '/x')
    expect(plan.argv).toEqual(['run', 'a-sv1/$(LATER)'])
    expect(plan.env).toMatchObject({ FROM_SECRET: 'sv1', A: 'a-sv1', B: 'a-sv1/$(LATER)', LATER: 'l', PATH: '/bin', HOSTNAME: 'wf-step-pod' })
    expect(plan.env).not.toHaveProperty('OPT')
    expect(plan.secretValues).toContain('sv1')
  })

  it('selects volume items and a single file by subPath', () => {
    const p = pod(
      { command: ['x'], volumeMounts: [{ name: 's', mountPath: '/etc/app/key.pem', subPath: 'tls/key' }] },
      { volumes: [{ name: 's', secret: { secretName: 's', items: [{ key: 'k', path: 'tls/key', mode: 0o400 }, { key: 'c', path: 'tls/crt' }] } }] },
    )
    const plan = planStep(launch(p, { secretData: { k: 'KEY', c: 'CRT' } }), '/bin', () => '/x')
    expect(plan.mounts).toEqual([{ kind: 'files', volume: 's', secret: true, mountPath: '/etc/app/key.pem', single: true, files: [{ path: '', content: 'KEY', mode: 0o400 }] }])
  })

  it('refuses unsupported volumes and escaping item paths', () => {
    const hostPath = pod({ command: ['x'], volumeMounts: [{ name: 'h', mountPath: '/h' }] }, { volumes: [{ name: 'h', hostPath: { path: '/' } }] })
    expect(() => planStep(launch(hostPath), '/bin', () => '/x')).toThrow(StartProblem)
    const escape = pod({ command: ['x'], volumeMounts: [{ name: 'c', mountPath: '/c' }] }, { volumes: [{ name: 'c', configMap: { name: 'c', items: [{ key: 'k', path: '../../etc/passwd' }] } }] })
    expect(() => planStep(launch(escape, { configData: { k: 'v' } }), '/bin', () => '/x')).toThrow(/must not contain/)
  })
})

describe('pathRewriter', () => {
  const rw = pathRewriter(new Map([['/etc/ctl/config', '/state/cfg'], ['/etc/ctl', '/state/ctl']]))
  it.each([
    ['/etc/ctl/config/run.sh', '/state/cfg/run.sh'],
    ['--file=/etc/ctl/config', '--file=/state/cfg'],
    ['/etc/ctl/configuration', '/state/ctl/configuration'],
    ['a /etc/ctl b /etc/ctl/config', 'a /state/ctl b /state/cfg'],
    ['/x/etc/ctl', '/x/etc/ctl'],
  ])('%s → %s', (input, out) => {
    expect(rw(input)).toBe(out)
  })
})
