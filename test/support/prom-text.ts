// A small strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on anything
// a Prometheus server would refuse or that the format forbids (a sample before its TYPE, a TYPE or HELP given
// twice, bad names, bad escapes, a duplicate series, histogram buckets out of order or not ending at +Inf = count).

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help?: string
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function fail(line: number, message: string): never {
  throw new Error(`exposition line ${line}: ${message}`)
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\'
    if (c === 'n') return '\n'
    return fail(line, `bad escape \\${c} in HELP`)
  })
}

function parseValue(text: string, line: number): number {
  // As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`).
  if (/^nan$/i.test(text)) return NaN
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity
  if (/^-inf(inity)?$/i.test(text)) return -Infinity
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(line, `bad value "${text}"`)
  return Number(text)
}

/** `{a="x",b="y"}` from position `i` of `s`; returns the labels and the position after `}`. */
function parseLabels(s: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {}
  i++ // {
  for (;;) {
    if (s[i] === '}') return [labels, i + 1]
    const eq = s.indexOf('=', i)
    if (eq < 0) fail(line, 'label without "="')
    const name = s.slice(i, eq)
    if (!LABEL_NAME.test(name)) fail(line, `bad label name "${name}"`)
    if (name in labels) fail(line, `label ${name} given twice`)
    if (s[eq + 1] !== '"') fail(line, `label ${name}: value not quoted`)
    let j = eq + 2
    let value = ''
    for (;;) {
      const c = s[j]
      if (c === undefined) fail(line, `label ${name}: unterminated value`)
      if (c === '"') break
      if (c === '\n') fail(line, 'raw newline in a label value')
      if (c === '\\') {
        const n = s[j + 1]
        if (n === '\\') value += '\\'
        else if (n === '"') value += '"'
        else if (n === 'n') value += '\n'
        else fail(line, `label ${name}: bad escape \\${n ?? ''}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (s[i] === ',') i++
    else if (s[i] !== '}') fail(line, `label ${name}: expected "," or "}"`)
  }
}

/** The family a sample name belongs to (histogram and summary samples carry suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name)
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const f = families.get(name.slice(0, -suffix.length))
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f
  }
  return undefined
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = seriesKey('', rest)
    const g = groups.get(key) ?? { buckets: [] }
    groups.set(key, g)
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`)
      g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value])
    } else if (s.name === `${f.name}_count`) g.count = s.value
    else if (s.name === `${f.name}_sum`) g.sum = s.value
    else throw new Error(`${f.name}: sample ${s.name} in a histogram`)
  }
  for (const [key, g] of groups) {
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name}${key}: _count or _sum missing`)
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${f.name}${key}: bucket bounds not increasing`)
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${f.name}${key}: bucket counts decrease`)
    }
    const last = g.buckets[g.buckets.length - 1]
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`)
    if (last[1] !== g.count) throw new Error(`${f.name}${key}: +Inf bucket ${last[1]} ≠ count ${g.count}`)
  }
}

/** Parses the whole exposition strictly; throws naming the line of the first problem. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const helped = new Set<string>()
  const typed = new Set<string>()
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition: the last line does not end with a newline')
  const lines = text.split('\n')
  lines.pop()
  lines.forEach((raw, index) => {
    const n = index + 1
    if (raw.trim() === '') return
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw)
      if (!m) return // a plain comment
      const [, kind, name, rest = ''] = m
      if (!METRIC_NAME.test(name!)) fail(n, `bad metric name "${name}"`)
      if (kind === 'HELP') {
        if (helped.has(name!)) fail(n, `HELP ${name} given twice`)
        helped.add(name!)
        const f = families.get(name!)
        const help = unescapeHelp(rest, n)
        if (f) f.help = help
        else families.set(name!, { name: name!, type: 'untyped', help, samples: [] })
        return
      }
      if (!TYPES.has(rest)) fail(n, `unknown type "${rest}"`)
      const f = families.get(name!)
      if (f && (f.samples.length > 0 || typed.has(name!))) fail(n, `TYPE ${name} after its samples or given twice`)
      const fam: Family = f ?? { name: name!, type: 'untyped', samples: [] }
      fam.type = rest as Family['type']
      typed.add(name!)
      families.set(name!, fam)
      return
    }
    const nameEnd = raw.search(/[{ ]/)
    if (nameEnd <= 0) fail(n, 'a sample without a value')
    const name = raw.slice(0, nameEnd)
    if (!METRIC_NAME.test(name)) fail(n, `bad metric name "${name}"`)
    let labels: Record<string, string> = {}
    let i = nameEnd
    if (raw[i] === '{') [labels, i] = parseLabels(raw, i, n)
    if (raw[i] !== ' ') fail(n, 'expected a space before the value')
    const parts = raw.slice(i + 1).split(' ')
    if (parts.length > 2 || parts[0] === '') fail(n, 'expected a value and at most a timestamp')
    const value = parseValue(parts[0]!, n)
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(n, `bad timestamp "${parts[1]}"`)
    const f = familyOf(name, families)
    if (!f || !typed.has(f.name)) fail(n, `sample ${name} before its TYPE line`)
    const key = seriesKey(name, labels)
    if (seen.has(key)) fail(n, `series ${key} given twice`)
    seen.add(key)
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f)
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`${s.name}: a counter below 0`)
  }
  return families
}

/** The sum of a family's samples named `name` whose labels include `match`. */
export function total(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  let sum = 0
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value
    }
  }
  return sum
}
