import { describe, expect, test } from 'vitest'
import { parse } from 'yaml'
import { CtlError } from '../../src/errors.js'
import { renderStackText, renderTemplate, renderYamlTemplate, templateReferences } from '../../src/template/template.js'

const ctx = {
  Name: 'wf',
  Workspace: 'public',
  List: ['a', 'b'],
  Env: { K1: 'v1', K2: 'v2' },
  Empty: '',
  ApplicationSpec: { StackSpec: { image: 'alpine:3.20', command: ['sh', '-c'] } },
  secrets: { app: { API_TOKEN: 't0k' } },
}

function errorOf(fn: () => unknown): CtlError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(CtlError)
    return err as CtlError
  }
  throw new Error('expected an error')
}

describe('Go-template look', () => {
  test.each([
    ['{{.Name}}', 'wf'],
    ['{{ .Workspace }}', 'public'],
    ['{{.ApplicationSpec.StackSpec.image}}', 'alpine:3.20'],
    ['{{.secrets.app.API_TOKEN}}', 't0k'],
    ['{{ $.Name }}/{{ . | kindIs "map" }}', 'wf/true'],
    ['{"a": {{.Name}}}', '{"a": wf}'],
    ['ends with a backslash \\{{.Name}}', 'ends with a backslash \\wf'],
    ['{{/* a comment */}}x', 'x'],
    ['{{ "}}" }}', '}}'],
  ])('%s', (src, want) => {
    expect(renderTemplate(src, ctx)).toBe(want)
  })

  test('pipes pass the value as the last argument', () => {
    expect(renderTemplate('{{ .Missing | default "a" }}', ctx)).toBe('a')
    expect(renderTemplate('{{ .Empty | default "a" }}', ctx)).toBe('a')
    expect(renderTemplate('{{ .Name | default "a" }}', ctx)).toBe('wf')
    expect(renderTemplate('{{ default "x" .Y }}', ctx)).toBe('x')
    expect(renderTemplate('{{ .Name | upper | quote }}', ctx)).toBe('"WF"')
    expect(renderTemplate('{{ toYaml .ApplicationSpec.StackSpec | indent 4 }}', ctx)).toBe('    image: alpine:3.20\n    command:\n      - sh\n      - -c')
    expect(renderTemplate('x:{{ toYaml .List | nindent 2 }}', ctx)).toBe('x:\n  - a\n  - b')
  })

  test('helpers', () => {
    expect(renderTemplate('{{ quote .Name }}', ctx)).toBe('"wf"')
    expect(renderTemplate('{{ join .List "," }}|{{ join "-" .List }}|{{ .List | join "+" }}', ctx)).toBe('a,b|a-b|a+b')
    expect(renderTemplate('{{ upper "aB" }}{{ lower "aB" }}[{{ trim "  x " }}]', ctx)).toBe('ABab[x]')
    expect(renderTemplate('{{ b64enc "hello" }}', ctx)).toBe('aGVsbG8=')
    expect(renderTemplate('{{ (upper .Name) | lower }}', ctx)).toBe('wf')
  })

  test('if / else if / with / range, with trim markers', () => {
    const src = 'a\n  {{- if .Missing }}1{{ else if eq .Name "wf" }}2{{ else }}3{{ end -}}\n  b'
    expect(renderTemplate(src, ctx)).toBe('a2b')
    expect(renderTemplate('{{ with .ApplicationSpec.StackSpec }}{{ .image }}{{ end }}', ctx)).toBe('alpine:3.20')
    expect(renderTemplate('{{ with .Nope }}x{{ else }}none{{ end }}', ctx)).toBe('none')
    expect(renderTemplate('{{ range .List }}[{{ . }}]{{ end }}', ctx)).toBe('[a][b]')
    expect(renderTemplate('{{ range $k, $v := .Env }}{{ $k }}={{ $v }};{{ end }}', ctx)).toBe('K1=v1;K2=v2;')
    expect(renderTemplate('{{ range $v := .List }}{{ $v }}{{ $.Name }}{{ end }}', ctx)).toBe('awfbwf')
  })

  test('an unresolved reference is an error naming it and where it is', () => {
    const err = errorOf(() => renderTemplate('image: {{ .ApplicationSpec.StackSpec.tag }}', ctx, { what: 'stack "x" image' }))
    expect(err.code).toBe('E_STACK_TEMPLATE')
    expect(err.message).toBe('stack "x" image: unresolved reference ".ApplicationSpec.StackSpec.tag" at 1:11 (no "tag" in .ApplicationSpec.StackSpec)')
    const p = errorOf(() => renderTemplate('{{.secrets.db.password}}', ctx, { code: 'E_PROJECTION' }))
    expect(p.code).toBe('E_PROJECTION')
    expect(p.message).toContain('".secrets.db.password"')
    // strict inside helpers too, not only bare output
    expect(errorOf(() => renderTemplate('{{ upper .Nope }}', ctx)).message).toContain('".Nope"')
    expect(errorOf(() => renderTemplate('{{ range .Nope }}{{ end }}', ctx)).message).toContain('".Nope"')
  })

  test('syntax errors are plain and located', () => {
    expect(errorOf(() => renderTemplate('{{ foo .X }}', ctx)).message).toBe('template: template syntax error at 1:4: unknown function "foo"')
    expect(errorOf(() => renderTemplate('a\n{{ if .X }}', ctx)).message).toContain('at 2:4: unclosed if: missing {{end}}')
    expect(errorOf(() => renderTemplate('{{ .X ', ctx)).message).toContain('unclosed action')
    expect(errorOf(() => renderTemplate('{{ end }}', ctx)).message).toContain('unexpected end')
    expect(errorOf(() => renderTemplate('{{ $x }}', ctx)).message).toContain('undefined variable "$x"')
  })

  test('references are listed with their base', () => {
    const refs = templateReferences('{{ .a.b }}{{ with .c }}{{ .d }}{{ end }}{{ $.e }}')
    expect(refs.map((r) => [r.text, r.base])).toEqual([['.a.b', 'dot'], ['.c', 'dot'], ['.d', 'nested'], ['$.e', 'root']])
  })

  test('a value is never evaluated again', () => {
    expect(renderTemplate('{{ .V }}', { V: '{{.Name}}', Name: 'no' })).toBe('{{.Name}}')
  })
})

describe('yaml mode', () => {
  const evil = 'x\ny: {{.Name}}: x # comment\n- list'
  const src = [
    'image: {{ .V }}',
    'workingDir: /work/{{ .V }}/sub',
    'command: {{ toYaml .L | nindent 2 }}',
    'args: ["--a={{ .V }}", {{ quote .V }}]',
    'n: {{ .N }}',
    'tag: {{ .T }}',
    'script: |',
    '  echo {{ .V }}',
    '',
  ].join('\n')

  test('a value with a newline, ": ", "#" and "{{" keeps the structure and stays verbatim', () => {
    const tree = renderYamlTemplate(src, { V: evil, L: ['a', evil], N: 3, T: '007', Name: 'inner' }) as Record<string, unknown>
    expect(Object.keys(tree)).toEqual(['image', 'workingDir', 'command', 'args', 'n', 'tag', 'script'])
    expect(tree.image).toBe(evil)
    expect(tree.workingDir).toBe(`/work/${evil}/sub`)
    expect(tree.command).toEqual(['a', evil])
    expect(tree.args).toEqual([`--a=${evil}`, evil])
    expect(tree.n).toBe(3)
    expect(tree.tag).toBe('007')
    expect(tree.script).toBe(`echo ${evil}\n`)
  })

  test('the same template in text mode would have broken the YAML', () => {
    const text = renderTemplate(src, { V: evil, L: ['a', evil], N: 3, T: '007', Name: 'inner' })
    expect(() => {
      const t = parse(text) as Record<string, unknown>
      if (t.image !== evil) throw new Error('changed')
    }).toThrow()
  })

  test('values keep their key position too, and unresolved references still throw', () => {
    expect(renderYamlTemplate('{{ .K }}: v', { K: 'a: b' })).toEqual({ 'a: b': 'v' })
    expect(() => renderYamlTemplate('a: {{ .Nope }}', {})).toThrow(/unresolved reference "\.Nope"/)
  })

  test('invalid rendered YAML is an E_STACK_TEMPLATE error', () => {
    expect(errorOf(() => renderYamlTemplate('a: [', {})).code).toBe('E_STACK_TEMPLATE')
  })
})

describe('renderYamlTemplate memoization', () => {
  const tpl = 'command: {{ toYaml .ApplicationSpec.StackSpec.command | nindent 2 }}\nname: {{ .StepName }}'
  const ctx = (command: string[], step: string, run: string) => ({ RunId: run, StepName: step, ApplicationSpec: { StackSpec: { command } } })

  test('renders again whenever a referenced value differs, and never for an unreferenced one', () => {
    expect(renderYamlTemplate(tpl, ctx(['a'], 's1', 'r1'))).toEqual({ command: ['a'], name: 's1' })
    expect(renderYamlTemplate(tpl, ctx(['b'], 's1', 'r1'))).toEqual({ command: ['b'], name: 's1' })
    expect(renderYamlTemplate(tpl, ctx(['a'], 's2', 'r1'))).toEqual({ command: ['a'], name: 's2' })
    expect(renderYamlTemplate(tpl, ctx(['a'], 's1', 'r2'))).toEqual({ command: ['a'], name: 's1' })
  })

  test('hands out copies: a caller changing its result cannot change the next one', () => {
    const first = renderYamlTemplate('args: {{ toYaml .ApplicationSpec.StackSpec.command | nindent 2 }}', ctx(['x'], 's', 'r')) as { args: string[] }
    first.args.push('mutated')
    expect(renderYamlTemplate('args: {{ toYaml .ApplicationSpec.StackSpec.command | nindent 2 }}', ctx(['x'], 's', 'r'))).toEqual({ args: ['x'] })
  })
})

describe('renderStackText memoization', () => {
  const ctx = (image: string, step: string) => ({ StepName: step, ApplicationSpec: { StackSpec: { image } } })

  test('renders as renderTemplate does, again whenever a referenced value differs', () => {
    const tpl = '{{ .ApplicationSpec.StackSpec.image }}@{{ .StepName }}'
    for (const c of [ctx('a', 's1'), ctx('b', 's1'), ctx('a', 's2'), ctx('a', 's1')]) expect(renderStackText(tpl, c)).toBe(renderTemplate(tpl, c))
    expect(renderStackText(tpl, ctx('b', 's2'))).toBe('b@s2')
  })

  test('a failed render is not remembered: it fails each time, and succeeds once the value is there', () => {
    const tpl = '{{ .ApplicationSpec.StackSpec.tag }}'
    expect(() => renderStackText(tpl, ctx('a', 's'))).toThrow(CtlError)
    expect(() => renderStackText(tpl, ctx('a', 's'))).toThrow(CtlError)
    expect(renderStackText(tpl, { ApplicationSpec: { StackSpec: { tag: 'v1' } } })).toBe('v1')
  })
})
