// Kubernetes resource quantities ("256Mi", "1.5G", "500m", "2", "1e3"): the one parser of them in
// ctl. Pure, at the bottom of the folder graph, so lint, the engine and the runtimes can share it.

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
}

const QUANTITY = /^([+]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d{1,3}))?$/

/**
 * The value of a quantity in base units (bytes for memory, cores for cpu), or undefined when
 * `q` is not a non-negative Kubernetes quantity. A number (YAML `cpu: 2`) is taken as is.
 */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) && q >= 0 ? q : undefined
  const m = QUANTITY.exec(q.trim())
  if (!m) return undefined
  const base = Number(m[2])
  const value = m[4] !== undefined ? base * 10 ** Number(m[4]) : base * SUFFIXES[m[3] ?? '']!
  return Number.isFinite(value) ? value : undefined
}
