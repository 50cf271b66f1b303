import { describe, expect, it } from 'vitest'
import { lintSources } from '../../src/manifest/index.js'
import { inScript, interpolateString } from '../../src/manifest/interpolate.js'
import { parseSource } from '../../src/manifest/load.js'
import { testContext, yaml } from './helpers.js'

describe('interpolateString', () => {
  const env = { VOL: 'shared', USER_1: 'ana', EMPTY: '' }

  it('fills ${VAR} and $VAR', () => {
    expect(interpolateString('id: ${VOL}/$USER_1!', env)).toEqual({ value: 'id: shared/ana!', missing: [] })
    expect(interpolateString('${EMPTY}x', env)).toEqual({ value: 'x', missing: [] })
  })

  it('turns $$ into a literal $ and leaves a lone $ alone', () => {
    expect(interpolateString('cost $$5, $$VOL, 5$, $-x, ${not valid}', env)).toEqual({ value: 'cost $5, $VOL, 5$, $-x, ${not valid}', missing: [] })
  })

  it('leaves DataOS ${{...}} placeholders and {{...}} templates untouched', () => {
    const text = 'name: ${{workflow-name}} token={{.secrets.app.TOKEN}} {{ range $i, $v := .Values }}$VOL{{ end }}'
    expect(interpolateString(text, env).value).toBe('name: ${{workflow-name}} token={{.secrets.app.TOKEN}} {{ range $i, $v := .Values }}shared{{ end }}')
  })

  it('reports each unset ${VAR} once and keeps an unset bare $VAR for the shell', () => {
    expect(interpolateString('$A ${B} $A ${B}', env)).toEqual({ value: '$A ${B} $A ${B}', missing: ['B'] })
  })
})

describe('interpolation while parsing', () => {
  const text = yaml`
    name: wf
    spec:
      dag:
        - name: extract
          spec:
            runAsUser: \${UID}
            quoted: "\${UID}"
            use:
              volumes:
                - id: \${SHARED_VOLUME_ID}
                  directory: /workspace
            \${KEY_NOT_TOUCHED}: x
            structure: \${STRUCTURE}
    `

  it('fills values after parsing, keeps plain numbers numbers, never changes structure or keys', () => {
    const env = { UID: '1000', SHARED_VOLUME_ID: 'vol-1', STRUCTURE: 'a: b\n- c: [d' }
    const { documents, issues } = parseSource({ file: 'w.yaml', text }, { interpolate: true, env })
    expect(issues).toEqual([])
    const spec = ((documents[0]!.value as any).spec.dag[0].spec) as Record<string, unknown>
    expect(spec['runAsUser']).toBe(1000)
    expect(spec['quoted']).toBe('1000')
    expect(spec['use']).toEqual({ volumes: [{ id: 'vol-1', directory: '/workspace' }] })
    expect(spec['${KEY_NOT_TOUCHED}']).toBe('x')
    expect(spec['structure']).toBe('a: b\n- c: [d')
  })

  it('reports an unset variable at its scalar and leaves the document out', () => {
    const { documents, issues } = parseSource({ file: 'w.yaml', text }, { interpolate: true, env: { UID: '1', STRUCTURE: 's' } })
    expect(documents).toEqual([])
    expect(issues).toEqual([
      {
        file: 'w.yaml',
        line: 10,
        column: 19,
        path: 'spec.dag[0].spec.use.volumes[0].id',
        code: 'E_INTERPOLATION',
        message: 'environment variable SHARED_VOLUME_ID is not set (write $${SHARED_VOLUME_ID} to keep the text, or use --disable-interpolation)',
      },
    ])
  })

  it('leaves the text as is when interpolation is disabled', () => {
    const { documents, issues } = parseSource({ file: 'w.yaml', text }, { interpolate: false, env: {} })
    expect(issues).toEqual([])
    const spec = ((documents[0]!.value as any).spec.dag[0].spec) as Record<string, unknown>
    expect(spec['runAsUser']).toBe('${UID}')
    expect((spec['use'] as any).volumes[0].id).toBe('${SHARED_VOLUME_ID}')
  })
})

describe('command lines are left to the step\'s shell', () => {
  const text = yaml`
    version: v2alpha
    name: wf
    type: workflow
    spec:
      dag:
        - name: bash
          spec:
            stack: echo
            stackSpec:
              image: \${IMAGE}
              interpreter: bash
              script: |
                x=\${HOME_TOWN:-nowhere}; echo "\${#x} \${x:0:3} \${UNSET_IN_SCRIPT} $USER"
        - name: container
          spec:
            stack: container
            stackSpec:
              image: alpine
              command: [sh, -c, 'echo \${UNSET_IN_COMMAND}']
              arguments: ['\${#1}', '$$keep']
    `
  const env = { IMAGE: 'alpine:3.20', USER: 'ana', UNSET_IN_SCRIPT: 'filled', UNSET_IN_COMMAND: 'filled' }
  const dag = (documents: { value: unknown }[]) => (documents[0]!.value as any).spec.dag as { spec: { stackSpec: Record<string, unknown> } }[]

  it('keeps script, command and arguments as written, fills the rest, and reports no unset variable in them', () => {
    const { documents, issues } = parseSource({ file: 'w.yaml', text }, { interpolate: true, env: { IMAGE: 'alpine:3.20' } })
    expect(issues).toEqual([])
    const [bash, container] = dag(documents)
    expect(bash!.spec.stackSpec['image']).toBe('alpine:3.20')
    expect(bash!.spec.stackSpec['script']).toBe('x=${HOME_TOWN:-nowhere}; echo "${#x} ${x:0:3} ${UNSET_IN_SCRIPT} $USER"\n')
    expect(container!.spec.stackSpec['command']).toEqual(['sh', '-c', 'echo ${UNSET_IN_COMMAND}'])
    expect(container!.spec.stackSpec['arguments']).toEqual(['${#1}', '$$keep'])
  })

  it('fills them too with a top-level `interpolate: scripts`, which the schema accepts', () => {
    const opted = `interpolate: scripts\n${text}`
    const { documents, issues } = parseSource({ file: 'w.yaml', text: opted }, { interpolate: true, env })
    expect(issues).toEqual([])
    const [bash, container] = dag(documents)
    expect(bash!.spec.stackSpec['script']).toBe('x=${HOME_TOWN:-nowhere}; echo "${#x} ${x:0:3} filled ana"\n')
    expect(container!.spec.stackSpec['command']).toEqual(['sh', '-c', 'echo filled'])
    expect(container!.spec.stackSpec['arguments']).toEqual(['${#1}', '$keep'])
    const unset = parseSource({ file: 'w.yaml', text: opted }, { interpolate: true, env: { IMAGE: 'x' } })
    expect(unset.issues.map((i) => i.path).sort()).toEqual(['spec.dag[0].spec.stackSpec.script', 'spec.dag[1].spec.stackSpec.command[2]'])
    const lint = lintSources([{ file: 'w.yaml', text: opted }], testContext(), { interpolate: true, env })
    expect(lint.issues).toEqual([])
  })

  it('says where a command line is: script, command or arguments anywhere in the document', () => {
    expect(inScript(['spec', 'dag', 0, 'spec', 'stackSpec', 'script'])).toBe(true)
    expect(inScript(['workflow', 'dag', 1, 'spec', 'stackSpec', 'arguments', 3])).toBe(true)
    expect(inScript(['stack', 'command', 0])).toBe(true)
    expect(inScript(['spec', 'dag', 0, 'spec', 'stackSpec', 'image'])).toBe(false)
    expect(inScript(['workflow', 'dag', 0, 'spec', 'envs', 'command'])).toBe(false)
  })
})
