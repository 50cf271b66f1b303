// Fan-out, pure: the combinations of a matrix and the names of a step's instances. Lint, dry run and the
// engine all call these, so an instance is named the same everywhere and across retries.
import { createHash } from 'node:crypto'
import { CtlError } from '../errors.js'
import { MAX_MATRIX_COMBINATIONS } from './limits.js'
import type { MatrixSpec, MatrixValue } from './model.js'

/** Kubernetes label values and DNS labels: at most 63 characters. */
export const INSTANCE_NAME_MAX = 63
/** Cross products beyond this are refused before they are built (exclude could not bring them back under the bound). */
const RAW_PRODUCT_MAX = MAX_MATRIX_COMBINATIONS * 64

type Combination = Record<string, MatrixValue>

const matches = (combo: Combination, entry: Combination, keys: readonly string[]): boolean =>
  keys.every((key) => Object.hasOwn(combo, key) && combo[key] === entry[key])

/** Axis keys first in declared order, then the other keys in their order: names and templates read the same everywhere. */
function ordered(combo: Combination, axes: readonly string[]): Combination {
  const out: Combination = {}
  for (const key of axes) if (Object.hasOwn(combo, key)) out[key] = combo[key]!
  for (const [key, value] of Object.entries(combo)) if (!Object.hasOwn(out, key)) out[key] = value
  return out
}

const sameCombination = (a: Combination, b: Combination): boolean => {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && matches(b, a, ka)
}

/** Size of the cross product of the axes (0 without axes), without building it. */
export function matrixProductSize(spec: Pick<MatrixSpec, 'axes'>): number {
  const lengths = Object.values(spec.axes).map((values) => values.length)
  return lengths.length === 0 ? 0 : lengths.reduce((a, b) => a * b, 1)
}

/**
 * The combinations of a matrix, GitHub Actions semantics: the cross product of the axes in declared order,
 * minus every combination that matches an `exclude` entry on all of that entry's keys; then each `include`
 * entry extends every original combination it matches on all its axis keys with its other keys, or, when it
 * matches none, is added as a combination of its own. Values compare strictly (`3.11` is not `"3.11"`).
 * Throws E_LIMIT when the cross product alone is far over the bound (the caller checks the final count).
 */
export function matrixCombinations(spec: MatrixSpec): Combination[] {
  const axes = Object.keys(spec.axes)
  const raw = matrixProductSize(spec)
  if (raw > RAW_PRODUCT_MAX) {
    throw new CtlError('E_LIMIT', `matrix axes multiply to ${raw} combinations; at most ${MAX_MATRIX_COMBINATIONS} are allowed`, { count: raw, max: MAX_MATRIX_COMBINATIONS })
  }
  let product: Combination[] = axes.length === 0 ? [] : [{}]
  for (const axis of axes) {
    const next: Combination[] = []
    for (const combo of product) for (const value of spec.axes[axis]!) next.push({ ...combo, [axis]: value })
    product = next
  }
  const kept = product.filter((combo) => !spec.exclude.some((entry) => matches(combo, entry, Object.keys(entry))))
  const original = kept.length
  for (const entry of spec.include) {
    const axisKeys = Object.keys(entry).filter((key) => axes.includes(key))
    const extra = Object.keys(entry).filter((key) => !axes.includes(key))
    let extended = false
    for (let i = 0; i < original; i++) {
      if (!matches(kept[i]!, entry, axisKeys)) continue
      for (const key of extra) kept[i]![key] = entry[key]!
      extended = true
    }
    if (extended) continue
    const added = ordered({ ...entry }, axes)
    if (!kept.some((combo) => sameCombination(combo, added))) kept.push(added)
  }
  return kept
}

/** Lowercase, characters outside [a-z0-9.-] → `-`, runs of dashes collapsed, no dash at either end. */
function dnsPart(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
}

/** A short hash of the step and the combination (or index): the same input gives the same name in every process. */
function shortHash(step: string, at: InstanceAt): string {
  const key = 'index' in at ? ['index', at.index] : ['matrix', Object.entries(at.matrix).map(([k, v]) => [k, typeof v, String(v)])]
  return createHash('sha256').update(JSON.stringify([step, key])).digest('hex').slice(0, 8)
}

function withHash(readable: string, hash: string): string {
  const room = INSTANCE_NAME_MAX - hash.length - 1
  const cut = readable.slice(0, room).replace(/[-.]+$/, '')
  return cut === '' ? hash : `${cut}-${hash}`
}

export type InstanceAt = { index: number } | { matrix: Record<string, MatrixValue> }

/**
 * The readable name of one instance: `shard-0`, or `test-debian-3.11` (values in the combination's key order:
 * axes, then include's extra keys). DNS-safe; over 63 characters it is cut and given a stable hash. Within a
 * step two combinations can still read the same (`a-b` + `c` vs `a` + `b-c`): name a whole step's instances
 * with `instanceNames`, which hashes those too.
 */
export function instanceName(step: string, at: InstanceAt): string {
  const parts = 'index' in at ? [String(at.index)] : Object.values(at.matrix).map((v) => String(v))
  const readable = dnsPart([step, ...parts].join('-'))
  if (readable.length <= INSTANCE_NAME_MAX && readable !== '') return readable
  return withHash(readable, shortHash(step, at))
}

/** The names of all instances of one step, in order: `instanceName`, with a hash added to every name two instances share. */
export function instanceNames(step: string, ats: readonly InstanceAt[]): string[] {
  const names = ats.map((at) => instanceName(step, at))
  const count = new Map<string, number>()
  for (const name of names) count.set(name, (count.get(name) ?? 0) + 1)
  return names.map((name, i) => (count.get(name)! > 1 ? withHash(name, shortHash(step, ats[i]!)) : name))
}
