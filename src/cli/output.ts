// Tables by default, yaml / json for scripts: every listing goes through here.
import { stringify } from 'yaml'
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
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
}

/**
 * A table in dataos-ctl's look: upper-case headers, columns separated by ` | `.
 * Plain text (no box drawing) so it stays greppable and copyable.
 */
export function renderTable(headers: string[], rows: (string | number | undefined | null)[][]): string {
  const cells = rows.map((row) => headers.map((_, i) => cellText(row[i])))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => maxLineWidth(row[i] ?? ''))))
  const line = (values: string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i] ?? 0)))
      .join(' | ')
      .trimEnd()
  const out = [line(headers.map((h) => h.toUpperCase())), line(widths.map((w) => '-'.repeat(w)))]
  for (const row of cells) out.push(line(row))
  return out.join('\n') + '\n'
}

function cellText(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return ''
  return String(value).replace(/\r?\n/g, ' ')
}

function maxLineWidth(text: string): number {
  return text.length
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
