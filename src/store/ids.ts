// Ids that sort by creation time as text (so `ORDER BY id` is newest/oldest
// without a second index): prefix + 9 base36 chars of milliseconds + randomness.
import { randomBytes } from 'node:crypto'

let lastMs = 0

/** Time-sortable id. Monotonic within one process even when many ids share a millisecond. */
export function newId(prefix: string): string {
  let ms = Date.now()
  if (ms <= lastMs) ms = lastMs + 1
  lastMs = ms
  const rand = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0')
  return `${prefix}-${ms.toString(36).padStart(9, '0')}${rand}`
}

export function nowIso(): string {
  return new Date().toISOString()
}
