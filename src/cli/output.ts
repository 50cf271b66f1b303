// Tables by default, yaml / json for scripts: every listing goes through here.
import { yaml } from './lazy-yaml.js'
import { CtlError } from '../errors.js'

export type OutputFormat = 'table' | 'yaml' | 'json'

export function parseOutputFormat(value: string | undefined, allowed: readonly OutputFormat[] = ['table', 'yaml', 'json']): OutputFormat {
  const format = (value ?? 'table') as OutputFormat
  if (!allowed.includes(format)) {
    throw new CtlError('E_USAGE', `unknown output format "${value}"; use one of ${allowed.join(', ')}`)
  }
  return format
}

export function toYaml(value: unknown): string {
  return yaml().stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
}

export { renderTable } from '../client/table.js'
