// One CEL environment (standard library + the strings extension) and one parse step, shared by check and evaluate.
import type { parse } from '@bufbuild/cel'
import { lazyModule } from '../lazy-module.js'

// CEL is a hundred modules: loaded when a manifest has an expression, not at every CLI start.
// Its CommonJS build, through the one loader, so check and evaluate share one instance.
export const cel = lazyModule<typeof import('@bufbuild/cel')>('@bufbuild/cel')
const celExt = lazyModule<typeof import('@bufbuild/cel/ext')>('@bufbuild/cel/ext')

let env: ReturnType<ReturnType<typeof cel>['celEnv']> | undefined
/** The one environment: the standard library and the strings extension. */
export function celEnvironment(): NonNullable<typeof env> {
  return (env ??= cel().celEnv({ funcs: celExt().strings }))
}

export type ParsedCel = ReturnType<typeof parse>
export type CelExpr = ParsedCel['expr']

/** Longest expression accepted; `when` and `items` are one-liners, this only stops a hostile megabyte. */
export const EXPR_MAX_LENGTH = 4096

export type ParseOutcome = { ok: true; parsed: ParsedCel } | { ok: false; message: string; offset?: number }

interface PeggyError {
  rawMessage?: unknown
  location?: { start?: { offset?: unknown } }
}

export function parseCel(source: string): ParseOutcome {
  if (source.length > EXPR_MAX_LENGTH) return { ok: false, message: `the expression is ${source.length} characters long; at most ${EXPR_MAX_LENGTH} are allowed` }
  if (source.trim() === '') return { ok: false, message: 'the expression is empty' }
  try {
    return { ok: true, parsed: cel().parse(source) }
  } catch (err) {
    const e = err as PeggyError & Error
    const raw = typeof e.rawMessage === 'string' ? e.rawMessage : String(e.message).replace(/^<input>:\d+:\d+: /, '')
    const offset = e.location?.start?.offset
    let message = `syntax error: ${raw}`
    // The grammar backtracks to the last operator it could not complete and only says it expected the end.
    if (/but expecting end of input$/.test(raw) && typeof offset === 'number') {
      const rest = source.slice(offset).trim()
      message = `syntax error at ${JSON.stringify(rest.length > 24 ? `${rest.slice(0, 24)}…` : rest)}: the expression cannot be read from here (an operand missing after an operator, an unclosed quote or bracket?)`
    }
    return { ok: false, message, ...(typeof offset === 'number' ? { offset } : {}) }
  }
}

/** Where the node with this id starts in the source (the parser records one offset per node). */
export function offsetOf(parsed: ParsedCel, id: bigint): number | undefined {
  const positions = parsed.sourceInfo?.positions as Record<string, number> | undefined
  const at = positions?.[String(id)]
  return typeof at === 'number' ? at : undefined
}

/** The expression as quoted in a message: cut, on one line. */
export function quoted(source: string): string {
  const one = source.replace(/\s+/g, ' ').trim()
  return JSON.stringify(one.length > 120 ? `${one.slice(0, 120)}…` : one)
}
