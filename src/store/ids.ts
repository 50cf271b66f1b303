// Ids that sort by creation time as text (so `ORDER BY id` is newest/oldest
// without a second index): prefix + 9 base36 chars of milliseconds + randomness.
import { randomBytes } from 'node:crypto'
import { CtlError } from '../errors.js'

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

/** A W3C trace id: 32 lower-case hex digits, not all zero. */
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/

/** The trace id a run is created with, checked (E_USAGE otherwise): it goes verbatim into steps' TRACEPARENT. */
export function checkedTraceId(traceId: string | undefined): string | undefined {
  if (traceId !== undefined && !TRACE_ID.test(traceId)) {
    throw new CtlError('E_USAGE', 'a run\'s trace id must be 32 lower-case hex digits, not all zero', { field: 'traceId' })
  }
  return traceId
}
