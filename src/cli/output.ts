// Tables by default, yaml / json for scripts: every listing goes through here.
import { yaml } from './lazy-yaml.js'
import { CtlError } from '../errors.js'
import type { Io } from './io.js'

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

/**
 * What every reporting verb prints: `value` as JSON or YAML for scripts, else the human text.
 * With -o json|yaml stdout carries that one document only.
 */
export function printReport(io: Io, format: OutputFormat, value: unknown, text: () => void): void {
  if (format === 'json') io.out(toJson(value))
  else if (format === 'yaml') io.out(toYaml(value))
  else text()
}

/** An Io whose `out` goes to stderr: progress of a verb whose stdout is one -o json|yaml document. */
export function progressToStderr(io: Io): Io {
  return { out: (t) => io.err(t), err: (t) => io.err(t), isTty: false }
}

export { renderTable } from '../api/table.js'
