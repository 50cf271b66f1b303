// The template engine shared by stacks and projections: Go-template look
// (`{{.ApplicationSpec.StackSpec.image}}`, `{{ .X | default "a" }}`) rendered by
// handlebars after a small rewrite (template-parse.ts). Lookups are strict: an
// unresolved reference is a CtlError naming it, never an empty string.
//
// Two modes. `text`: plain output (config files, projection values). `yaml`:
// the output is YAML that shapes a container; every interpolated value is kept
// out of the YAML text (a per-render sentinel stands in for it) and put back
// into the parsed tree, so no user value — newlines, `: `, `#`, `{{` — can change
// the structure or be evaluated again. Only toYaml output (and indent/nindent of
// it) is structural by design.

import { randomBytes } from 'node:crypto'
import type Handlebars from 'handlebars'
import { lazyModule, yaml } from '../lazy-module.js'
import { CtlError, type ErrorCode } from '../errors.js'
import {
  positionOf,
  TEMPLATE_FUNCTIONS,
  TemplateSyntaxError,
  translateTemplate,
  type TemplateReference,
} from './parse.js'

export { TEMPLATE_FUNCTIONS, type TemplateReference } from './parse.js'

export type TemplateMode = 'text' | 'yaml'
export type TemplateErrorCode = Extract<ErrorCode, 'E_STACK_TEMPLATE' | 'E_PROJECTION'>

export interface TemplateOptions {
  /** Error code of problems in this template; default E_STACK_TEMPLATE. */
  code?: TemplateErrorCode
  /** What the template is, for messages: `containerResourceTemplate of stack "container:1.0"`. */
  what?: string
}

/** A string produced by toYaml: structure, inserted into yaml-mode output as is. */
class Structural {
  constructor(readonly text: string) {}
  toString(): string { return this.text }
}

/** Output of `quote`: in yaml mode a string scalar whatever it looks like. */
class Quoted {
  constructor(readonly text: string) {}
  toString(): string { return JSON.stringify(this.text) }
}

interface RenderData {
  ctlLits: unknown[]
  ctlRefs: TemplateReference[]
  ctlMode: TemplateMode
  ctlCode: TemplateErrorCode
  ctlWhat: string
  ctlSource: string
  /** yaml mode: values standing behind sentinels. */
  ctlValues: unknown[]
  ctlNonce: string
}

interface HelperOptions { data: RenderData }


function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0) return true
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object' && !(value instanceof Structural) && !(value instanceof Quoted)) return Object.keys(value).length === 0
  return false
}

/** Text form of a value, as `{{ }}` prints it in text mode. */
export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (value instanceof Structural || value instanceof Quoted) return value.toString()
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

function plain(value: unknown): unknown {
  return value instanceof Structural || value instanceof Quoted ? value.text : value
}

function hasOwn(obj: unknown, key: string): boolean {
  return typeof obj === 'object' && obj !== null && Object.prototype.hasOwnProperty.call(obj, key)
}

function lookup(base: unknown, ref: TemplateReference, data: RenderData, strict: boolean): unknown {
  let cur = base
  for (let i = 0; i < ref.segments.length; i++) {
    const seg = ref.segments[i]!
    if (!hasOwn(cur, seg)) {
      if (!strict) return undefined
      const where = positionOf(data.ctlSource, ref.offset)
      const parent = ref.segments.slice(0, i)
      const within = parent.length ? ` in ${ref.text.startsWith('$') ? '$' : ''}.${parent.join('.')}` : ''
      throw new CtlError(
        data.ctlCode,
        `${data.ctlWhat}: unresolved reference "${ref.text}" at ${where.line}:${where.column} (no "${seg}"${within})`,
        { reference: ref.text, line: where.line, column: where.column },
      )
    }
    cur = (cur as Record<string, unknown>)[seg]
  }
  return cur
}

function indentText(n: unknown, text: string): string {
  const pad = ' '.repeat(Number(n) || 0)
  return text.split('\n').map((line) => (line === '' ? line : pad + line)).join('\n')
}

/** Keeps toYaml output structural through indent/nindent. */
function sameKind(input: unknown, text: string): unknown {
  return input instanceof Structural ? new Structural(text) : text
}

const helpers: Record<string, (...args: unknown[]) => unknown> = {
  ctlText: (i, o) => (o as HelperOptions).data.ctlLits[i as number],
  ctlLit: (i, o) => (o as HelperOptions).data.ctlLits[i as number],
  ctlGet: (base, i, o) => lookup(base, (o as HelperOptions).data.ctlRefs[i as number]!, (o as HelperOptions).data, true),
  ctlTry: (base, i, o) => lookup(base, (o as HelperOptions).data.ctlRefs[i as number]!, (o as HelperOptions).data, false),
  ctlOut: (value, o) => {
    const data = (o as HelperOptions).data
    if (data.ctlMode === 'text') return formatValue(value)
    if (value instanceof Structural) return value.text
    data.ctlValues.push(value)
    return `ctl${data.ctlNonce}v${data.ctlValues.length - 1}x`
  },
  ctl_toYaml: (value) => {
    const v = plain(value)
    if (v === undefined || v === null) return new Structural('')
    return new Structural(yaml().stringify(v, { lineWidth: 0 }).replace(/\n$/, ''))
  },
  ctl_indent: (n, value) => sameKind(value, indentText(n, formatValue(value))),
  ctl_nindent: (n, value) => sameKind(value, '\n' + indentText(n, formatValue(value))),
  ctl_quote: (...args) => new Quoted(args.slice(0, -1).map((a) => formatValue(plain(a))).join(' ')),
  ctl_default: (...args) => {
    // sprig: `default DEFAULT VALUE`; with a pipe the value arrives last.
    const [fallback, value] = args.length > 2 ? [args[0], args[1]] : [args[0], undefined]
    return isEmpty(value) ? fallback : value
  },
  ctl_join: (a, b) => {
    // Both `join "," .List` (sprig) and `join .List ","` (as written by some DataOS stacks).
    const [list, sep] = Array.isArray(a) ? [a, b] : [b, a]
    if (!Array.isArray(list)) return formatValue(plain(list))
    return list.map((x) => formatValue(plain(x))).join(formatValue(sep))
  },
  ctl_upper: (s) => formatValue(plain(s)).toUpperCase(),
  ctl_lower: (s) => formatValue(plain(s)).toLowerCase(),
  ctl_trim: (s) => formatValue(plain(s)).trim(),
  ctl_b64enc: (s) => Buffer.from(formatValue(plain(s)), 'utf8').toString('base64'),
  ctl_eq: (...args) => {
    const [first, ...rest] = args.slice(0, -1).map(plain)
    return rest.some((x) => x === first)
  },
  ctl_ne: (a, b) => plain(a) !== plain(b),
  ctl_not: (a) => isEmpty(a),
  ctl_and: (...args) => {
    const vals = args.slice(0, -1)
    return vals.find((v) => isEmpty(v)) ?? vals[vals.length - 1]
  },
  ctl_or: (...args) => {
    const vals = args.slice(0, -1)
    return vals.find((v) => !isEmpty(v)) ?? vals[vals.length - 1]
  },
  ctl_kindIs: (kind, value) => {
    const v = plain(value)
    const actual = v === null || v === undefined ? 'invalid' : Array.isArray(v) ? 'slice' : typeof v === 'object' ? 'map'
      : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float64') : typeof v === 'boolean' ? 'bool' : 'string'
    return actual === kind
  },
}
// Handlebars (33 modules) is compiled when a template is, not at every start of the CLI.
const handlebars = lazyModule<typeof Handlebars>('handlebars')
let hbInstance: typeof Handlebars | undefined
function hb(): typeof Handlebars {
  if (hbInstance) return hbInstance
  const instance = handlebars().create()
  for (const [name, fn] of Object.entries(helpers)) instance.registerHelper(name, fn as Handlebars.HelperDelegate)
  return (hbInstance = instance)
}

const knownHelpers: Record<string, boolean> = Object.fromEntries(
  [...Object.keys(helpers), 'if', 'each', 'with'].map((n) => [n, true]),
)
for (const fn of TEMPLATE_FUNCTIONS) if (!(`ctl_${fn}` in helpers)) throw new Error(`template function ${fn} has no helper`)

interface Compiled {
  run: Handlebars.TemplateDelegate
  literals: unknown[]
  references: TemplateReference[]
}

const cache = new Map<string, Compiled>()
const CACHE_LIMIT = 1000

function syntaxError(source: string, err: unknown, opts: TemplateOptions): CtlError {
  const code = opts.code ?? 'E_STACK_TEMPLATE'
  const what = opts.what ?? 'template'
  if (err instanceof TemplateSyntaxError) {
    const p = positionOf(source, err.offset)
    return new CtlError(code, `${what}: template syntax error at ${p.line}:${p.column}: ${err.message}`, { line: p.line, column: p.column })
  }
  return new CtlError(code, `${what}: template error: ${err instanceof Error ? err.message : String(err)}`)
}

function compile(source: string, opts: TemplateOptions): Compiled {
  const hit = cache.get(source)
  if (hit) return hit
  let compiled: Compiled
  try {
    const t = translateTemplate(source)
    const run = hb().compile(t.program, { strict: true, noEscape: true, knownHelpers, knownHelpersOnly: true })
    compiled = { run, literals: t.literals, references: t.references }
  } catch (err) {
    throw syntaxError(source, err, opts)
  }
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(source, compiled)
  return compiled
}

/** Parses a template without rendering it: its references, or a CtlError for a syntax error. */
export function templateReferences(source: string, opts: TemplateOptions = {}): TemplateReference[] {
  return compile(source, opts).references
}

function run(source: string, context: unknown, mode: TemplateMode, opts: TemplateOptions, nonce: string): { text: string; values: unknown[] } {
  const c = compile(source, opts)
  const data: RenderData = {
    ctlLits: c.literals,
    ctlRefs: c.references,
    ctlMode: mode,
    ctlCode: opts.code ?? 'E_STACK_TEMPLATE',
    ctlWhat: opts.what ?? 'template',
    ctlSource: source,
    ctlValues: [],
    ctlNonce: nonce,
  }
  try {
    return { text: c.run(context, { data }), values: data.ctlValues }
  } catch (err) {
    if (err instanceof CtlError) throw err
    throw syntaxError(source, err, opts)
  }
}

/** Renders in text mode: config files, projection values, stack image/command/arguments. */
export function renderTemplate(source: string, context: unknown, opts: TemplateOptions = {}): string {
  return run(source, context, 'text', opts, '').text
}

/**
 * renderTemplate for a stack's own templates (image, command, arguments, environment, config files), remembered like
 * renderYamlTemplate's: the many steps of a run with the same stackSpec render each template once. Not for projections,
 * whose values may be secret, nor for a step with run values rendered into it (a param may be secret: stack-part.ts).
 */
export function renderStackText(source: string, context: unknown, opts: TemplateOptions = {}): string {
  const key = `${source}\u0000${JSON.stringify(referencedPart(source, context, opts))}`
  const cached = textRenderCache.get(key)
  if (cached !== undefined) return cached
  const text = renderTemplate(source, context, opts)
  if (textRenderCache.size >= YAML_RENDER_CACHE_SIZE) textRenderCache.delete(textRenderCache.keys().next().value as string)
  textRenderCache.set(key, text)
  return text
}

const textRenderCache = new Map<string, string>()

/**
 * Renders in yaml mode and parses the result. Interpolated values come back
 * verbatim in the parsed tree: a value that is a whole scalar keeps its type
 * (`replicas: {{.N}}` → 3, `tag: {{.T}}` with "007" → "007"); inside a longer
 * scalar it is spliced into the string.
 */
export function renderYamlTemplate(source: string, context: unknown, opts: TemplateOptions = {}): unknown {
  // A pure function of its inputs, and a YAML parse per step is most of what resolving a
  // Pod costs: the many steps of a run with the same stackSpec render once.
  // Only renders that succeeded are kept, so the options (which only word errors: the step's name) are not in the key.
  const key = `${source}\u0000${JSON.stringify(referencedPart(source, context, opts))}`
  const cached = yamlRenderCache.get(key)
  if (cached !== undefined) return structuredClone(cached)
  const tree = renderYamlUncached(source, context, opts)
  if (yamlRenderCache.size >= YAML_RENDER_CACHE_SIZE) yamlRenderCache.delete(yamlRenderCache.keys().next().value as string)
  yamlRenderCache.set(key, tree)
  return structuredClone(tree)
}

/** renderYamlTemplate without its memory: for a context that may hold a secret value (a step's run values). */
export function renderYamlOnce(source: string, context: unknown, opts: TemplateOptions = {}): unknown {
  return renderYamlUncached(source, context, opts)
}

/** The context's top-level keys a template's references start from; 'all' when it uses `.` itself. */
export function referencedKeys(source: string, opts: TemplateOptions = {}): Set<string> | 'all' {
  const keys = new Set<string>()
  for (const ref of templateReferences(source, opts)) {
    if (ref.base !== 'dot' && ref.base !== 'root') continue
    const first = ref.segments[0]
    if (first === undefined) return 'all'
    keys.add(first)
  }
  return keys
}

/**
 * The part of the context a template can see: the top-level keys its references
 * start from (`.ApplicationSpec…` → ApplicationSpec), or all of it when it uses
 * `.` itself. Two contexts equal in that part render the same.
 */
function referencedPart(source: string, context: unknown, opts: TemplateOptions): unknown {
  if (!context || typeof context !== 'object') return context
  const keys = referencedKeys(source, opts)
  if (keys === 'all') return context
  const part: Record<string, unknown> = {}
  for (const k of [...keys].sort()) part[k] = (context as Record<string, unknown>)[k]
  return part
}

const YAML_RENDER_CACHE_SIZE = 512
const yamlRenderCache = new Map<string, unknown>()

function renderYamlUncached(source: string, context: unknown, opts: TemplateOptions): unknown {
  const nonce = randomBytes(8).toString('hex')
  const { text, values } = run(source, context, 'yaml', opts, nonce)
  let tree: unknown
  try {
    tree = yaml().parse(text, { uniqueKeys: true })
  } catch (err) {
    const what = opts.what ?? 'template'
    throw new CtlError(opts.code ?? 'E_STACK_TEMPLATE', `${what}: rendered YAML is invalid: ${(err as Error).message.split('\n')[0]}`)
  }
  if (values.length === 0) return tree
  const sentinel = new RegExp(`ctl${nonce}v(\\d+)x`, 'g')
  const whole = new RegExp(`^ctl${nonce}v(\\d+)x$`)
  const splice = (s: string): unknown => {
    const m = whole.exec(s)
    if (m) {
      const v = values[Number(m[1])]
      return v instanceof Quoted ? v.text : v === undefined ? null : v
    }
    return s.replace(sentinel, (_all, i: string) => formatValue(values[Number(i)]))
  }
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return splice(node)
    if (Array.isArray(node)) return node.map(walk)
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(node)) out[formatValue(splice(k))] = walk(v)
      return out
    }
    return node
  }
  return walk(tree)
}
