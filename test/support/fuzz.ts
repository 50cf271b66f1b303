// Generators shared by the property-based tests: the valid examples, and hostile values to put anywhere in them.
// Bounded: a fixed number of runs and a time budget per property; the seed is printed and can be set with
// CTL_FUZZ_SEED (and the runs with CTL_FUZZ_RUNS) to replay or widen a run.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { parseAllDocuments } from 'yaml'

export const repoRoot = join(import.meta.dirname, '..', '..')

export function fuzzSettings(name: string, runs: number): { seed: number; numRuns: number; interruptAfterTimeLimit: number; markInterruptAsFailure: false } {
  const seed = process.env['CTL_FUZZ_SEED'] !== undefined ? Number(process.env['CTL_FUZZ_SEED']) : 20_261_206
  const numRuns = process.env['CTL_FUZZ_RUNS'] !== undefined ? Number(process.env['CTL_FUZZ_RUNS']) : runs
  console.log(`${name}: fast-check seed ${seed}, ${numRuns} runs (CTL_FUZZ_SEED / CTL_FUZZ_RUNS to change)`)
  // The time limit keeps the file well under a minute on a busy machine; what ran is still checked.
  return { seed, numRuns, interruptAfterTimeLimit: 12_000, markInterruptAsFailure: false }
}

/** Every document of examples/*.yaml (the valid ones), as plain values. */
export function exampleManifests(): unknown[] {
  const dir = join(repoRoot, 'examples')
  const out: unknown[] = []
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      if (!('errors' in d) || d.errors.length === 0) out.push(d.toJS({ maxAliasCount: 100 }))
    }
  }
  return out
}

type Path = (string | number)[]

/** Every path to a node of `value` (the root too). */
export function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix)
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out))
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out)
  return out
}

/** A deep copy of `root` with the node at `path` replaced (or, for `add`, a new key `add` set beside it). */
export function replaceAt(root: unknown, path: Path, value: unknown, add?: string): unknown {
  const copy = structuredClone(root) as unknown
  if (path.length === 0) return add === undefined ? value : isObj(copy) ? Object.assign(copy, { [add]: value }) : value
  let node = copy as Record<string | number, unknown>
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (add !== undefined && isObj(node[last])) (node[last] as Record<string, unknown>)[add] = value
  else node[last] = value
  return copy
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function nested(depth: number, leaf: unknown): unknown {
  let v = leaf
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v }
  return v
}

const DURATIONS = ['99999999999999d', '999999h', '1e400s', '-1h', '0s', '0', '1h1h', 'PT', 'P1D', '1.5', '1m30s', `${'9'.repeat(400)}ms`, 'NaN', '24.8d', '2147483648ms']
const NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 53 + 1, -(2 ** 53), 1e308, -1e308, 5e-324, 1.5, 4294967296, Number.MAX_SAFE_INTEGER]
const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', ' ', 'PATH', 'CTL_SERVER', 'a\u0000b', '$ref', '../x', 'dag', 'spec', 'timeout', 'retry', 'envs']

/** Hostile values: wrong types, huge numbers, long strings, NUL bytes, deep nesting, duration-shaped strings. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(...DURATIONS, ...NUMBERS, ...KEYS, null, true, false, [], {}) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `${s}\u0000${s}`) },
    { weight: 1, arbitrary: fc.constantFrom(1000, 70_000, 1024 * 1024 + 1).map((n) => 'x'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 10, max: 80 }).map((d) => nested(d, 'leaf')) },
    { weight: 1, arbitrary: fc.constantFrom(0, 2, 5001).map((n) => Array.from({ length: n }, (_, i) => ({ name: `s${i}`, spec: { stack: 'script', stackSpec: {} } }))) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 30, unit: 'binary' }) },
  )
}

/** An example manifest with one to three nodes replaced by (or extended with) hostile values. */
export function mutatedManifest(examples: readonly unknown[]): fc.Arbitrary<unknown> {
  const one = (root: unknown): fc.Arbitrary<unknown> =>
    fc.tuple(fc.constantFrom(...pathsOf(root)), hostileValue(), fc.option(fc.constantFrom(...KEYS, 'network', 'extra'), { nil: undefined })).map(([path, value, add]) => replaceAt(root, path, value, add))
  return fc
    .constantFrom(...examples)
    .chain((root) => one(root))
    .chain((root) => fc.oneof(fc.constant(root), one(root)))
    .chain((root) => fc.oneof(fc.constant(root), one(root)))
}
