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

/**
 * A table in dataos-ctl's look: upper-case headers, columns separated by ` | `.
 * Plain text (no box drawing) so it stays greppable and copyable.
 */
export function renderTable(headers: string[], rows: (string | number | undefined | null)[][]): string {
  const columns = headers.length
  const widths = headers.map((h) => h.length)
  const cells: string[][] = new Array(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    const out: string[] = new Array(columns)
    for (let c = 0; c < columns; c++) {
      const text = cellText(row[c])
      out[c] = text
      if (text.length > widths[c]!) widths[c] = text.length
    }
    cells[r] = out
  }
  const line = (values: string[]): string => {
    let text = ''
    for (let c = 0; c < columns; c++) {
      text += c === columns - 1 ? values[c]! : values[c]!.padEnd(widths[c]!) + ' | '
    }
    return text.trimEnd()
  }
  const out: string[] = [line(headers.map((h) => h.toUpperCase())), line(widths.map((w) => '-'.repeat(w)))]
  for (const row of cells) out.push(line(row))
  return out.join('\n') + '\n'
}

function cellText(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return ''
  const text = typeof value === 'string' ? value : String(value)
  return text.includes('\n') ? text.replace(/\r?\n/g, ' ') : text
}

/** `1h2m3s` style durations, as kubectl prints them. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return ''
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`
  const h = Math.floor(m / 60)
  return `${h}h${m % 60 ? `${m % 60}m` : ''}`
}
