import { describe, expect, test } from 'vitest'
import { checkTemplate, DEFAULT_PROJECTIONS, defaultProjectionValues } from '../../src/projection/check.js'

const app = new Set(['app'])

describe('checkTemplate', () => {
  test('declared aliases and known default projections pass', () => {
    expect(checkTemplate('postgresql://{{.secrets.app.username}}:{{ .secrets.app.password }}@h/{{.defaultProjections.dataOsRunId}}', app)).toEqual([])
    expect(checkTemplate('{{ .secrets.app.TOKEN | default "x" }}-{{ .defaultProjections.runId | upper }}', app)).toEqual([])
    expect(checkTemplate('no references at all', new Set())).toEqual([])
  })

  test('unknown aliases name what is declared', () => {
    expect(checkTemplate('{{.secrets.db.password}}', app)).toEqual(['unknown secret alias "db"; declared: app'])
    expect(checkTemplate('{{.secrets.ap.password}}', app)).toEqual(['unknown secret alias "ap"; declared: app (did you mean "app"?)'])
    expect(checkTemplate('{{.secrets.db.password}}', new Set())).toEqual(['unknown secret alias "db"; no secrets are declared'])
    expect(checkTemplate('{{.secrets.app}}', app)).toEqual(['".secrets.app" must name a key of secret alias "app", e.g. .secrets.app.KEY'])
  })

  test('unknown default projections and other references', () => {
    expect(checkTemplate('{{.defaultProjections.runID}}', app)[0]).toMatch(/^unknown default projection "runID"; did you mean "runId"\?; known: dataOsRunId, runId, /)
    expect(checkTemplate('{{.foo}}', app)).toEqual([
      'unknown reference ".foo"; projection templates can use .secrets.<alias>.<KEY> and .defaultProjections.<name>',
    ])
    expect(checkTemplate('{{.secrets.x.A}}{{.secrets.x.B}}', app)).toEqual(['unknown secret alias "x"; declared: app'])
  })

  test('syntax errors are reported plainly', () => {
    expect(checkTemplate('{{ .secrets.app.A ', app)).toEqual(['template syntax error at 1:1: unclosed action: missing "}}"'])
    expect(checkTemplate('{{ nope .secrets.app.A }}', app)).toEqual(['template syntax error at 1:4: unknown function "nope"'])
  })
})

test('default projection values', () => {
  const v = defaultProjectionValues(
    { runId: 'r-1', revision: 2, runStartTime: '2025-01-01T00:00:00Z', owner: 'bob', workspace: 'public', attempt: 2 },
    'load',
    { name: 'etl', version: 'v2alpha' },
  )
  expect(Object.keys(v)).toEqual([...DEFAULT_PROJECTIONS])
  expect(v).toMatchObject({ dataOsRunId: 'r-1', runId: 'r-1', workflowName: 'etl', stepName: 'load', resourceId: 'workflow:v2alpha:etl:public', runAttempt: '2' })
})
