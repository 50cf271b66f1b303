import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatIssue } from '../../src/errors.js'
import { lintFiles, lintSources, type ManifestContext } from '../../src/manifest/index.js'
import type { WorkflowResource } from '../../src/manifest/model.js'
import { testContext, writeTree, yaml } from './helpers.js'
import { compute, stack, workflowV2 } from './manifests.js'

const opts = { interpolate: false, env: {} }
function lint(text: string, ctx: ManifestContext = testContext()): string[] {
  return lintSources([{ file: 'w.yaml', text }], ctx, opts).issues.map(formatIssue)
}

/** A v2alpha workflow whose steps are given as YAML lines (indented for the dag list). */
function wf(steps: string, extra = ''): string {
  return `version: v2alpha\nname: wf\ntype: workflow\nspec:\n${extra}  dag:\n${steps}`
}
const step = (name: string, more = '', stackRef = 'container'): string =>
  `    - name: ${name}\n${more}      spec:\n        stack: ${stackRef}\n        stackSpec: {image: x}\n`

describe('names', () => {
  it('checks the resource name and step names', () => {
    const text = wf(step('Extract_1') + step('ok')).replace('name: wf', `name: ${'a'.repeat(49)}`)
    expect(lint(text)).toEqual([
      `w.yaml:2:1  invalid name "${'a'.repeat(49)}": is 49 characters long; at most 48 are allowed (name)`,
      'w.yaml:6:7  invalid step name "Extract_1": must use lowercase letters, digits and "-", and start and end with a letter or digit (spec.dag[0].name)',
    ])
  })

  it('refuses a step name used twice', () => {
    expect(lint(wf(step('a') + step('b') + step('a')))).toEqual(['w.yaml:14:7  duplicate step name "a" (first at line 6) (spec.dag[2].name)'])
  })
})

describe('dependencies', () => {
  it('names an unknown dependency with a suggestion, v2alpha and v1', () => {
    const text = wf(step('extract') + step('load', '      depends: [extrct, zzz]\n'))
    expect(lint(text)).toEqual([
      'w.yaml:11:17  unknown step "extrct" in depends; did you mean "extract"? (spec.dag[1].depends[0])',
      'w.yaml:11:25  unknown step "zzz" in depends (spec.dag[1].depends[1])',
    ])
    const v1 = yaml`
      version: v1
      name: wf
      type: workflow
      workflow:
        dag:
          - name: extract
            spec: {stack: container, stackSpec: {image: x}}
          - name: load
            dependencies: [extracts]
            spec: {stack: container, stackSpec: {image: x}}
      `
    expect(lint(v1)).toEqual(['w.yaml:9:22  unknown step "extracts" in dependencies; did you mean "extract"? (workflow.dag[1].dependencies[0])'])
  })

  it('prints a dependency cycle in order, located at its first step', () => {
    const text = wf(
      step('start') +
        step('a', '      depends: [c, start]\n') +
        step('b', '      depends: [a]\n') +
        step('c', '      depends: [b]\n') +
        step('self', '      depends: [self]\n'),
    )
    expect(lint(text)).toEqual(['w.yaml:10:7  dependency cycle: a → c → b → a (spec.dag[1])', 'w.yaml:25:7  dependency cycle: self → self (spec.dag[4])'])
  })
})

describe('schedule', () => {
  it('checks cron expressions, the time zone and endOn', () => {
    const schedule = "  schedule:\n    crons: ['*/5 * * * *', '61 * * * *', 'every day']\n    timezone: Mars/Olympus\n    endOn: 31.12.2030\n"
    const issues = lintSources([{ file: 'w.yaml', text: wf(step('a'), schedule) }], testContext(), opts).issues
    expect(issues.map((i) => [i.code, i.line, i.column, i.path])).toEqual([
      ['E_CRON', 6, 28, 'spec.schedule.crons[1]'],
      ['E_CRON', 6, 42, 'spec.schedule.crons[2]'],
      ['E_TIMEZONE', 7, 5, 'spec.schedule.timezone'],
      ['E_END_ON', 8, 5, 'spec.schedule.endOn'],
    ])
    expect(issues[0]!.message).toMatch(/^invalid cron expression "61 \* \* \* \*": /)
    expect(issues[1]!.message).toBe('invalid cron expression "every day": expected 5 fields (minute hour day-of-month month day-of-week), got 2')
    expect(issues[2]!.message).toBe('unknown time zone "Mars/Olympus"; use an IANA name such as UTC or Europe/Berlin')
    expect(issues[3]!.message).toBe('endOn "31.12.2030" is not an RFC 3339 time such as 2030-12-31T23:59:59Z')
  })

  it('checks the single v1 cron', () => {
    const v1 = yaml`
      version: v1
      name: wf
      type: workflow
      workflow:
        schedule: {cron: '* * *', endOn: '2030-02-31T00:00:00Z'}
        dag:
          - name: a
            spec: {stack: container, stackSpec: {image: x}}
      `
    expect(lint(v1)).toEqual([
      'w.yaml:5:14  invalid cron expression "* * *": expected 5 fields (minute hour day-of-month month day-of-week), got 3 (workflow.schedule.cron)',
      'w.yaml:5:29  endOn "2030-02-31T00:00:00Z" is not an RFC 3339 time such as 2030-12-31T23:59:59Z (workflow.schedule.endOn)',
    ])
  })
})

describe('stacks', () => {
  it('refuses unknown stacks, unknown versions and malformed references', () => {
    const text = wf(step('a', '', 'contaner') + step('b', '', 'container:9.9') + step('c', '', 'Container:1:2'))
    expect(lint(text)).toEqual([
      'w.yaml:8:9  unknown stack "contaner" (spec.dag[0].spec.stack)',
      'w.yaml:12:9  unknown version "9.9" of stack "container"; known versions: 1.0, 2.0 (spec.dag[1].spec.stack)',
      'w.yaml:16:9  invalid stack reference "Container:1:2"; use NAME or NAME:VERSION (spec.dag[2].spec.stack)',
    ])
  })

  it('locates stackSpec errors inside stackSpec', () => {
    const text = yaml`
      version: v2alpha
      name: wf
      type: workflow
      spec:
        dag:
          - name: a
            spec:
              stack: container
              stackSpec:
                image: alpine
                command:
                  - sh
                  - 42
                entrypoint: [sh]
      `
    expect(lint(text)).toEqual([
      'w.yaml:13:15  must be string (spec.dag[0].spec.stackSpec.command[1])',
      'w.yaml:14:11  unknown field "entrypoint" (spec.dag[0].spec.stackSpec.entrypoint)',
    ])
  })

  it('resolves stacks applied in the same batch', () => {
    const uses = wf(step('a', '', 'shell:1.0').replace('stackSpec: {image: x}', 'stackSpec: {script: echo hi}') + step('b', '', 'shell').replace('stackSpec: {image: x}', 'stackSpec: {scrpt: x}'))
    const result = lintSources(
      [
        { file: 'a-workflow.yaml', text: uses },
        { file: 'b-stack.yaml', text: stack },
      ],
      testContext(),
      opts,
    )
    expect(result.issues.map(formatIssue)).toEqual([
      'a-workflow.yaml:13:9  must have required property \'script\' (spec.dag[1].spec.stackSpec)',
      'a-workflow.yaml:13:21  unknown field "scrpt" (spec.dag[1].spec.stackSpec.scrpt)',
    ])
  })
})

describe('projections', () => {
  it('checks each template against the aliases in scope, at its own line', () => {
    const text = yaml`
      version: v2alpha
      name: wf
      type: workflow
      spec:
        use:
          projection:
            secrets: [{id: s1, contextAlias: app}]
            projections:
              envVars:
                - {key: A, value: '{{.secrets.app.A}}'}
                - {key: B, value: '{{.secrets.db.B}}'}
              arguments: ['{{.defaultProjections.nope}}']
        dag:
          - name: a
            spec:
              stack: container
              stackSpec: {image: x}
              use:
                projection:
                  secrets: [{id: s2, contextAlias: db}]
                  projections:
                    files:
                      - name: conf
                        value: '{{.secrets.app.X}} {{.secrets.db.Y}} {{.secrets.other.Z}}'
                      - name: rel
                        directory: etc/conf
                        value: x
      `
    expect(lint(text)).toEqual([
      'w.yaml:11:22  unknown secret alias "db"; declared: app (spec.use.projection.projections.envVars[1].value)',
      'w.yaml:12:21  unknown default projection "nope" (spec.use.projection.projections.arguments[0])',
      'w.yaml:24:19  unknown secret alias "other"; declared: app, db (spec.dag[0].spec.use.projection.projections.files[0].value)',
      'w.yaml:26:19  projection directory "etc/conf" must be an absolute path (spec.dag[0].spec.use.projection.projections.files[1].directory)',
    ])
  })
})

describe('computes and volumes', () => {
  it('refuses an unknown compute when the known ones are given, counting computes of the batch', () => {
    const text = wf(step('a', '').replace('stack: container', 'stack: container\n        compute: runnable-defualt') + step('b').replace('stack: container', 'stack: container\n        compute: gpu-pool'))
    const ctx = testContext({ computes: ['query-default'] })
    expect(lint(text, ctx)).toEqual([
      'w.yaml:9:9  unknown compute "runnable-defualt"; did you mean "runnable-default"? Known computes: query-default, runnable-default (spec.dag[0].spec.compute)',
      'w.yaml:14:9  unknown compute "gpu-pool"; known computes: query-default, runnable-default (spec.dag[1].spec.compute)',
    ])
    const withCompute = lintSources([{ file: 'w.yaml', text: `${text}---\n${compute}` }], ctx, opts).issues.map(formatIssue)
    expect(withCompute).toEqual([
      'w.yaml:9:9  unknown compute "runnable-defualt"; did you mean "runnable-default"? Known computes: gpu-pool, query-default, runnable-default (spec.dag[0].spec.compute)',
    ])
    // Offline (no known computes): not checked.
    expect(lint(text)).toEqual([])
  })

  it('requires absolute volume directories', () => {
    const text = wf(step('a').replace('stack: container', 'stack: container\n        use:\n          volumes: [{id: shared, directory: workspace}]'))
    expect(lint(text)).toEqual(['w.yaml:10:34  volume directory "workspace" must be an absolute path (spec.dag[0].spec.use.volumes[0].directory)'])
  })
})

describe('batches', () => {
  it('refuses the same resource twice and collects issues of all files, sorted', () => {
    const bad = wf(step('a', '      depends: [b]\n') + step('b', '      depends: [a]\n'))
    const result = lintSources(
      [
        { file: 'b.yaml', text: `${workflowV2}---\n${workflowV2.replace('timezone: Europe/Berlin', 'timezone: Nowhere')}` },
        { file: 'a.yaml', text: `${bad}---\nversion: v1\nname: x\ntype: volume\nvolume: {size: 1Gi}\n` },
      ],
      testContext(),
      opts,
    )
    expect(result.issues.map(formatIssue)).toEqual([
      'a.yaml:6:7  dependency cycle: a → b → a (spec.dag[0])',
      'a.yaml:20:1  missing required field "accessMode" (volume.accessMode)',
      'a.yaml:20:1  missing required field "type" (volume.type)',
      'b.yaml:67:1  duplicate resource: workflow "customer-batch" is also defined at b.yaml:2 (name)',
      'b.yaml:77:5  unknown time zone "Nowhere"; use an IANA name such as UTC or Europe/Berlin (spec.schedule.timezone)',
    ])
    expect(result.documents.map((d) => `${d.doc.file}#${d.doc.index}`)).toEqual(['b.yaml#0'])
  })

  it('lints files and directories from disk, reporting missing ones', async () => {
    const root = writeTree({ 'wf.yaml': workflowV2, 'more/stack.yaml': stack, 'more/notes.md': '# not a manifest' })
    const result = await lintFiles([join(root, 'wf.yaml'), join(root, 'more'), join(root, 'missing.yaml')], testContext(), opts)
    expect(result.issues.map((i) => [i.code, i.file])).toEqual([['E_FILE', join(root, 'missing.yaml')]])
    expect(result.documents.map((d) => d.resource.meta.name)).toEqual(['customer-batch', 'shell-v1'])
  })

  it('lints a 5,000-step workflow', () => {
    const lines = ['version: v2alpha', 'name: huge', 'type: workflow', 'spec:', '  dag:']
    for (let i = 0; i < 5000; i++) {
      lines.push(`    - name: step-${i}`)
      if (i > 0) lines.push(`      depends: [step-${i - 1}${i > 10 ? `, step-${i - 10}` : ''}]`)
      lines.push('      spec:', '        stack: container', '        stackSpec:', `          image: alpine:${i}`, '          command: [sh, -c, "echo hi"]')
    }
    const result = lintSources([{ file: 'huge.yaml', text: lines.join('\n') }], testContext(), opts)
    expect(result.issues).toEqual([])
    const wfr = result.documents[0]!.resource as WorkflowResource
    expect(wfr.workflow.dag).toHaveLength(5000)
    expect(wfr.workflow.dag[4999]!.depends).toEqual(['step-4998', 'step-4989'])
    // A cycle closing the whole chain is found and printed without recursion.
    const cyclic = lines.join('\n').replace('    - name: step-0\n', '    - name: step-0\n      depends: [step-4999]\n')
    const issues = lintSources([{ file: 'huge.yaml', text: cyclic }], testContext(), opts).issues
    expect(issues.map((i) => [i.code, i.path])).toEqual([['E_CYCLE', 'spec.dag[0]']])
    expect(issues[0]!.message).toMatch(/^dependency cycle: step-0 → step-4999 → step-\d+ → .* → step-1 → step-0$/)
  })
})

describe('system paths', () => {
  const volumeAt = (directory: string, extra = '') => wf(step('a').replace('stack: container', `stack: container\n        use:\n          volumes: [{id: shared, directory: ${directory}${extra}}]`))
  const filesAt = (directory: string) =>
    wf(step('a').replace('stack: container', `stack: container\n        use:\n          projection:\n            projections:\n              files:\n                - name: f\n                  directory: ${directory}\n                  value: x`))

  it.each([
    ['/', 'is a system path'],
    ['/proc', 'is a system path'],
    ['/proc/', 'is a system path'],
    ['/sys/fs/cgroup', 'lies inside the system path /sys'],
    ['/dev/shm', 'lies inside the system path /dev'],
    ['/etc', 'is a system path'],
    ['/usr/local/bin', 'lies inside the system path /usr'],
    ['/bin', 'is a system path'],
    ['/lib64', 'is a system path'],
    ['/boot', 'is a system path'],
    ['/root/.ssh', 'lies inside the system path /root'],
    ['/run', 'is a system path'],
    ['/var/run/docker', 'lies inside the system path /var/run'],
    ['/var', 'is a system path'],
    ['/data/../etc', 'must not contain ".."'],
  ])('refuses %s as a volume directory and as a projection directory, located', (dir, problem) => {
    expect(lint(volumeAt(dir))).toEqual([
      `w.yaml:10:34  volume directory "${dir}" ${problem}; mount volumes at a folder of their own such as /data (spec.dag[0].spec.use.volumes[0].directory)`,
    ])
    expect(lint(filesAt(dir))).toEqual([
      `w.yaml:14:19  projection directory "${dir}" ${problem}; project files into a folder of their own such as /etc/ctl/projection (spec.dag[0].spec.use.projection.projections.files[0].directory)`,
    ])
  })

  it('refuses a system path as a workflow-level projection directory', () => {
    const text = wf(step('a'), '  use:\n    projection:\n      projections:\n        files:\n          - {name: f, directory: /usr/lib, value: x}\n')
    expect(lint(text)).toEqual([
      'w.yaml:9:23  projection directory "/usr/lib" lies inside the system path /usr; project files into a folder of their own such as /etc/ctl/projection (spec.use.projection.projections.files[0].directory)',
    ])
  })

  it.each(['/data', '/workspace', '/etc/ctl/projection', '/etc/ctl/config/extra', '/etc/myapp', '/var/lib/postgresql/data', '/home/app/data', '/tmp', '/opt/work', '/mnt/in', '/usrdata', '/procs'])(
    'accepts %s',
    (dir) => {
      expect(lint(volumeAt(dir))).toEqual([])
      expect(lint(filesAt(dir))).toEqual([])
    },
  )

  it('refuses a subPath that is absolute or climbs out of the volume', () => {
    expect(lint(volumeAt('/data', ', subPath: ../other'))).toEqual([
      'w.yaml:10:52  volume subPath "../other" must be a relative path inside the volume, without ".." (spec.dag[0].spec.use.volumes[0].subPath)',
    ])
    expect(lint(volumeAt('/data', ', subPath: /etc'))).toHaveLength(1)
    expect(lint(volumeAt('/data', ', subPath: run/a'))).toEqual([])
  })

  it('refuses them in v1 volumes too', () => {
    const text = 'version: v1\nname: w\ntype: workflow\nworkflow:\n  dag:\n    - name: a\n      spec:\n        stack: container\n        stackSpec: {image: x}\n        use:\n          volumes: [{id: shared, directory: /}]\n'
    expect(lint(text)).toEqual([
      'w.yaml:11:34  volume directory "/" is a system path; mount volumes at a folder of their own such as /data (workflow.dag[0].spec.use.volumes[0].directory)',
    ])
  })
})
