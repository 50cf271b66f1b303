// Evaluating `when` and `forEach.items` at run time. Plain JS in, plain JS out: the engine never sees CEL's
// value types, and an item renders in `{{.item}}` as the user wrote it.
import type { CelInput, CelValue, plan } from '@bufbuild/cel'
import { CtlError } from '../errors.js'
import { cel, celEnvironment, parseCel, quoted } from './env.js'
import type { ExprVars, WebhookVars } from './types.js'

type Program = ReturnType<typeof plan>

/** Compiled programs by source; bounded, the oldest goes first (a run evaluates the same few expressions). */
const CACHE_MAX = 500
const cache = new Map<string, Program>()

function compile(source: string): Program {
  const hit = cache.get(source)
  if (hit) return hit
  const parsed = parseCel(source)
  if (!parsed.ok) throw new CtlError('E_EXPR', `expression ${quoted(source)}: ${parsed.message}`)
  const program = cel().plan(celEnvironment(), parsed.parsed)
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!)
  cache.set(source, program)
  return program
}

/** JSON-like JS → CEL input: objects become maps (no prototype lookups), whole numbers ints unless told otherwise. */
function toCel(v: unknown, wholeAsInt: boolean): CelInput {
  if (typeof v === 'number') return wholeAsInt && Number.isSafeInteger(v) ? BigInt(v) : v
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint' || v === null) return v
  if (Array.isArray(v)) return v.map((x) => toCel(x, wholeAsInt))
  if (typeof v === 'object' && v !== undefined) {
    return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x, wholeAsInt)]))
  }
  return null
}

function bindings(vars: ExprVars): Record<string, CelInput> {
  const params = new Map<string, CelInput>()
  for (const [name, v] of Object.entries(vars.params)) {
    const type = vars.paramTypes?.[name]
    params.set(name, toCel(v, type === undefined || type === 'integer' || type === 'array' || type === 'object'))
  }
  const steps = new Map<string, CelInput>()
  for (const [name, s] of Object.entries(vars.steps)) {
    steps.set(name, new Map<string, CelInput>([['outputs', toCel(s.outputs, false)], ['state', s.state]]))
  }
  const { name, workspace, runId, trigger, status, scheduledTime } = vars.workflow
  const workflow = new Map([['name', name], ['workspace', workspace], ['runId', runId], ['trigger', trigger], ['status', status ?? 'Running'], ['scheduledTime', scheduledTime ?? '']])
  return { params, steps, workflow }
}

function run(source: string, vars: ExprVars | WebhookVars): CelValue {
  const program = compile(source)
  const input = 'body' in vars ? { body: toCel(vars.body, true), headers: toCel(vars.headers, false) } : bindings(vars)
  const result = program(input)
  if (cel().isCelError(result)) throw new CtlError('E_EXPR', `expression ${quoted(source)} failed: ${result.message}`)
  return result
}

/** CEL value → plain JS: bigint → number when safe (else its decimal text), lists → arrays, maps → objects. */
export function plainValue(v: CelValue): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (cel().isCelUint(v)) return plainValue(v.value)
  if (cel().isCelList(v)) return [...v].map(plainValue)
  if (cel().isCelMap(v)) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of v) out[String(cel().isCelUint(k) ? k.value : k)] = plainValue(x)
    return out
  }
  if (v instanceof Uint8Array) return new TextDecoder().decode(v)
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  return String(v)
}

const kindOf = (v: CelValue): string =>
  typeof v === 'bigint' || typeof v === 'number' ? 'a number' : typeof v === 'string' ? 'a string' : typeof v === 'boolean' ? 'a bool' : v === null ? 'null' : cel().isCelMap(v) ? 'a map' : 'a value'

/** A `when`: true runs the step, false skips it. Throws E_EXPR on a runtime error or a result that is no bool. */
export function evaluateCondition(source: string, vars: ExprVars): boolean {
  const result = run(source, vars)
  if (typeof result !== 'boolean') throw new CtlError('E_EXPR', `condition ${quoted(source)} yielded ${kindOf(result)}, not a bool`)
  return result
}

/**
 * `forEach.items`: the list, as plain JS. A string holding a JSON list (an output `files=["a","b"]`) is parsed.
 * Throws E_EXPR on a runtime error or anything else than a list. The caller checks the count (checkFanoutSize).
 */
export function evaluateItems(source: string, vars: ExprVars): unknown[] {
  const result = run(source, vars)
  if (cel().isCelList(result)) return [...result].map(plainValue)
  if (typeof result === 'string') {
    let parsed: unknown
    try {
      parsed = JSON.parse(result)
    } catch {
      parsed = undefined
    }
    if (Array.isArray(parsed)) return parsed
    throw new CtlError('E_EXPR', `items ${quoted(source)} yielded a string that is not a JSON list: ${quoted(result)}`)
  }
  throw new CtlError('E_EXPR', `items ${quoted(source)} yielded ${kindOf(result)}, not a list`)
}

/** A webhook trigger's param mapping over the request: the plain value (its param's type is checked by resolveParams). */
export function evaluateValue(source: string, vars: WebhookVars): unknown {
  return plainValue(run(source, vars))
}
