// A small checker over the parsed CEL tree, for lint: the names an expression may use (params, ancestors'
// outputs and state, workflow facts) and the type errors that are sure from the declarations alone. What is
// not known (an output's content, `dyn`) is let through: the run decides, and fails with E_EXPR.
import type { ParamType } from '../manifest/model.js'
import { didYouMean } from '../manifest/suggest.js'
import { celEnvironment, offsetOf, parseCel, type CelExpr, type ParsedCel } from './env.js'
import type { ExprExpect, ExprProblem, ExprScope } from './types.js'

type Scalar = 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'null' | 'type'
type T =
  | { k: 'dyn' }
  | { k: Scalar }
  | { k: 'list'; elem: T }
  | { k: 'map'; value: T }
  // The variables themselves: selecting on them is where names are checked.
  | { k: 'ns'; ns: 'params' | 'steps' | 'workflow' }
  | { k: 'step'; step: string }

const DYN: T = { k: 'dyn' }
const BOOL: T = { k: 'bool' }
const INT: T = { k: 'int' }
const STRING: T = { k: 'string' }
const scalar = (k: Scalar): T => ({ k })

export const WORKFLOW_FIELDS = ['name', 'workspace', 'runId', 'trigger', 'status', 'scheduledTime'] as const
const ROOTS = ['params', 'steps', 'workflow'] as const
const WEBHOOK_ROOTS = ['body', 'headers'] as const
const FANOUT_VARS = ['item', 'index', 'matrix']
/** `type(x) == string`: type names are identifiers in CEL. */
const TYPE_NAMES = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn'])

const PARAM_TYPE: Record<ParamType, T> = {
  string: STRING,
  integer: INT,
  number: scalar('double'),
  boolean: BOOL,
  array: { k: 'list', elem: DYN },
  object: { k: 'map', value: DYN },
}

const NAMES: Record<string, string> = {
  bool: 'a bool', int: 'an integer', uint: 'an unsigned integer', double: 'a number', string: 'a string', bytes: 'bytes',
  null: 'null', type: 'a type', list: 'a list', map: 'a map', dyn: 'a value',
}
const nameOf = (t: T): string => (t.k === 'ns' || t.k === 'step' ? 'a map' : NAMES[t.k]!)
const known = (t: T): boolean => t.k !== 'dyn'
const numeric = (t: T): boolean => t.k === 'int' || t.k === 'uint' || t.k === 'double'
/** Namespaces behave as maps once used as values (`size(params)`). */
const value = (t: T): T => (t.k === 'ns' || t.k === 'step' ? { k: 'map', value: DYN } : t)

/** Result types of the functions whose result does not depend on their arguments. */
const RESULT: Record<string, T> = {
  size: INT, int: INT, uint: scalar('uint'), double: scalar('double'), string: STRING, bool: BOOL, bytes: scalar('bytes'),
  matches: BOOL, startsWith: BOOL, endsWith: BOOL, contains: BOOL, '@in': BOOL,
  split: { k: 'list', elem: STRING }, lowerAscii: STRING, upperAscii: STRING, trim: STRING, replace: STRING,
  substring: STRING, charAt: STRING, format: STRING, join: STRING, indexOf: INT, lastIndexOf: INT,
}
const COMPARISONS = new Set(['_<_', '_<=_', '_>_', '_>=_'])
const ARITHMETIC = new Set(['_+_', '_-_', '_*_', '_/_', '_%_'])

class Checker {
  readonly problems: ExprProblem[] = []
  /** How many macro bodies enclose the expression being checked. */
  private loopDepth = 0
  constructor(
    private readonly parsed: ParsedCel,
    private readonly scope: ExprScope,
    private readonly expect: ExprExpect,
  ) {}

  private problem(e: CelExpr, message: string, shift = 0): void {
    const at = offsetOf(this.parsed, e.id)
    this.problems.push(at === undefined ? { message } : { message, offset: at + shift })
  }

  typeOf(e: CelExpr, locals: ReadonlyMap<string, T>): T {
    const kind = e.exprKind
    switch (kind.case) {
      case 'constExpr': {
        const c = kind.value.constantKind.case
        if (c === 'boolValue') return BOOL
        if (c === 'int64Value') return INT
        if (c === 'uint64Value') return scalar('uint')
        if (c === 'doubleValue') return scalar('double')
        if (c === 'stringValue') return STRING
        if (c === 'bytesValue') return scalar('bytes')
        if (c === 'nullValue') return scalar('null')
        return DYN
      }
      case 'identExpr':
        return this.ident(e, kind.value.name, locals)
      case 'selectExpr': {
        const operand = this.typeOf(kind.value.operand!, locals)
        const t = this.select(e, operand, kind.value.field)
        return kind.value.testOnly ? BOOL : t
      }
      case 'callExpr': {
        const target = kind.value.target ? value(this.typeOf(kind.value.target, locals)) : undefined
        const args = kind.value.args.map((a) => this.typeOf(a, locals))
        return this.call(e, kind.value.function, target, args, kind.value.args)
      }
      case 'listExpr': {
        const elems = kind.value.elements.map((x) => value(this.typeOf(x, locals)))
        const first = elems[0]
        return { k: 'list', elem: first && elems.every((x) => x.k === first.k) ? first : DYN }
      }
      case 'structExpr':
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') this.typeOf(entry.keyKind.value, locals)
          if (entry.value) this.typeOf(entry.value, locals)
        }
        return { k: 'map', value: DYN }
      case 'comprehensionExpr': {
        const c = kind.value
        // Evaluated on the control plane's one thread, without a cost limit: a macro inside another's body costs the
        // square of its input (a webhook's body, a list param), so one expression could stall every run.
        if (this.loopDepth > 0) this.problem(e, 'a macro (map, filter, all, exists, exists_one) inside the body of another is not allowed: its cost grows with the square of the input; split the work between steps')
        const range = value(this.typeOf(c.iterRange!, locals))
        const inner = new Map(locals)
        inner.set(c.iterVar, range.k === 'list' ? range.elem : range.k === 'map' ? STRING : DYN)
        if (c.iterVar2) inner.set(c.iterVar2, range.k === 'map' ? range.value : DYN)
        const accu = value(this.typeOf(c.accuInit!, locals))
        inner.set(c.accuVar, accu.k === 'list' ? { k: 'list', elem: DYN } : accu)
        this.loopDepth++
        this.typeOf(c.loopCondition!, inner)
        this.typeOf(c.loopStep!, inner)
        this.loopDepth--
        const outer = new Map(locals)
        outer.set(c.accuVar, inner.get(c.accuVar)!)
        return this.typeOf(c.result!, outer)
      }
      default:
        return DYN
    }
  }

  private ident(e: CelExpr, name: string, locals: ReadonlyMap<string, T>): T {
    const local = locals.get(name)
    if (local) return local
    if (this.scope.context === 'webhook') {
      if (name === 'body') return DYN
      if (name === 'headers') return { k: 'map', value: STRING }
      if (TYPE_NAMES.has(name)) return scalar('type')
      const hint = didYouMean(name, WEBHOOK_ROOTS, { declared: true })
      const also = (ROOTS as readonly string[]).includes(name) ? ' (a webhook param mapping reads only the request)' : ''
      this.problem(e, `unknown variable "${name}"${hint ? `; did you mean "${hint}"?` : ''}${also} Variables: ${WEBHOOK_ROOTS.join(', ')}`)
      return DYN
    }
    if (name === 'params' || name === 'steps' || name === 'workflow') return { k: 'ns', ns: name }
    if (TYPE_NAMES.has(name)) return scalar('type')
    if (FANOUT_VARS.includes(name)) {
      const where = this.expect === 'bool' ? '`when`, which is evaluated once, before the step fans out' : '`forEach.items`, which is evaluated before the step fans out'
      this.problem(e, `"${name}" is not available to ${where}; it exists only in the step's templates ({{.${name}}})`)
      return DYN
    }
    const hint = didYouMean(name, ROOTS, { declared: true })
    this.problem(e, `unknown variable "${name}"${hint ? `; did you mean "${hint}"?` : ''} Variables: ${ROOTS.join(', ')}`)
    return DYN
  }

  private select(e: CelExpr, operand: T, field: string): T {
    if (operand.k === 'ns' && operand.ns === 'params') {
      const decl = this.scope.params.find((p) => p.name === field)
      if (decl) return PARAM_TYPE[decl.type]
      const names = this.scope.params.map((p) => p.name)
      const hint = didYouMean(field, names, { declared: true })
      const known = names.length > 0 ? `declared: ${names.join(', ')}` : 'the workflow declares no params'
      this.problem(e, `unknown param "${field}"${hint ? `; did you mean "${hint}"?` : ''} (${known})`, 1)
      return DYN
    }
    if (operand.k === 'ns' && operand.ns === 'steps') {
      if (this.scope.steps.includes(field)) return { k: 'step', step: field }
      this.problem(e, this.stepProblem(field), 1)
      return { k: 'step', step: '' }
    }
    if (operand.k === 'ns' && operand.ns === 'workflow') {
      if ((WORKFLOW_FIELDS as readonly string[]).includes(field)) return STRING
      const hint = didYouMean(field, WORKFLOW_FIELDS, { declared: true })
      this.problem(e, `unknown field "workflow.${field}"${hint ? `; did you mean "${hint}"?` : ''} (workflow has ${WORKFLOW_FIELDS.join(', ')})`, 1)
      return DYN
    }
    if (operand.k === 'step') {
      if (field === 'state') return STRING
      if (field === 'outputs') {
        const out: T = { k: 'map', value: STRING }
        return this.scope.fannedOut?.includes(operand.step) ? { k: 'list', elem: out } : out
      }
      if (operand.step !== '') this.problem(e, `"steps.${operand.step}.${field}": a step has only "outputs" and "state"`, 1)
      return DYN
    }
    if (operand.k === 'map') return operand.value
    if (operand.k === 'dyn') return DYN
    const hint = operand.k === 'list' && operand.elem.k === 'map' ? ` (a fanned-out step's outputs are a list of its instances' outputs: outputs[0].${field}, or outputs.map(o, o.${field}))` : ''
    this.problem(e, `cannot read field "${field}" of ${nameOf(operand)}${hint}`, 1)
    return DYN
  }

  private stepProblem(step: string): string {
    const ancestors = this.scope.steps
    const list = ancestors.length > 0 ? `its ancestors: ${ancestors.join(', ')}` : 'it has no ancestors'
    if (this.scope.allSteps?.includes(step)) {
      return `step "${step}" is not an ancestor of this step: only steps it depends on (directly or through others) have finished when it runs; add it to depends (${list})`
    }
    const hint = didYouMean(step, this.scope.allSteps ?? ancestors, { declared: true })
    return `unknown step "${step}"${hint ? `; did you mean "${hint}"?` : ''} (${list})`
  }

  private call(e: CelExpr, fn: string, target: T | undefined, args: T[], argExprs: readonly CelExpr[]): T {
    const [a, b] = args.map(value)
    if (fn === '_&&_' || fn === '_||_' || fn === '!_') {
      const op = fn === '!_' ? '!' : fn.slice(1, 3)
      args.forEach((t, i) => {
        if (known(value(t)) && t.k !== 'bool') this.problem(argExprs[i]!, `"${op}" needs bools; this operand is ${nameOf(t)}`)
      })
      return BOOL
    }
    if (fn === '_==_' || fn === '_!=_') {
      if (a && b && known(a) && known(b) && a.k !== 'null' && b.k !== 'null' && a.k !== b.k && !(numeric(a) && numeric(b))) {
        this.problem(e, `comparing ${nameOf(a)} with ${nameOf(b)} is always ${fn === '_==_' ? 'false' : 'true'}`)
      }
      return BOOL
    }
    if (COMPARISONS.has(fn)) {
      if (a && b && known(a) && known(b) && a.k !== b.k && !(numeric(a) && numeric(b))) this.problem(e, `cannot order ${nameOf(a)} against ${nameOf(b)}`)
      return BOOL
    }
    if (ARITHMETIC.has(fn) && a && b) {
      if (!known(a) || !known(b)) return DYN
      if (a.k !== b.k) {
        const hint = numeric(a) && numeric(b) ? ' (CEL does not mix integers and numbers: convert one with int() or double())' : ''
        this.problem(e, `"${fn.slice(1, 2)}" cannot combine ${nameOf(a)} with ${nameOf(b)}${hint}`)
        return DYN
      }
      return a.k === 'list' ? { k: 'list', elem: DYN } : a
    }
    if (fn === '-_') return a ?? DYN
    if (fn === '_?_:_') {
      if (a && known(a) && a.k !== 'bool') this.problem(argExprs[0]!, `the condition of "? :" must be a bool; this is ${nameOf(a)}`)
      const [, y, z] = args.map(value)
      return y && z && y.k === z.k && y.k !== 'list' && y.k !== 'map' ? y : DYN
    }
    if (fn === '_[_]') {
      if (a?.k === 'list') return a.elem
      if (a?.k === 'map') return a.value
      if (a && known(a) && a.k !== 'string') this.problem(e, `cannot index ${nameOf(a)}`)
      return DYN
    }
    if (fn === '@in') {
      if (b && known(b) && b.k !== 'list' && b.k !== 'map') this.problem(e, `"in" needs a list or a map on its right; this is ${nameOf(b)}`)
      return BOOL
    }
    if (!fn.startsWith('_') && !fn.startsWith('@') && celEnvironment().funcs.find(fn) === undefined) {
      this.problem(e, `unknown function "${fn}"`)
      return DYN
    }
    if (fn === 'size' && (target ?? a) && known((target ?? a)!) && !['string', 'bytes', 'list', 'map'].includes((target ?? a)!.k)) {
      this.problem(e, `size() needs a string, list or map; this is ${nameOf((target ?? a)!)}`)
    }
    return RESULT[fn] ?? DYN
  }
}

/** Every problem of an expression that lint can see: syntax, names, sure type errors, the kind of its result. */
export function checkExpression(source: string, scope: ExprScope, expect: ExprExpect): ExprProblem[] {
  const parsed = parseCel(source)
  if (!parsed.ok) return [parsed.offset === undefined ? { message: parsed.message } : { message: parsed.message, offset: parsed.offset }]
  const checker = new Checker(parsed.parsed, scope, expect)
  const result = value(checker.typeOf(parsed.parsed.expr, new Map()))
  if (known(result)) {
    if (expect === 'bool' && result.k !== 'bool') {
      checker.problems.push({ message: `a condition must be a bool; this expression is ${nameOf(result)}`, offset: 0 })
    }
    // A string may hold a JSON list (an output such as files=["a","b"]); anything else is no list.
    if (expect === 'list' && result.k !== 'list' && result.k !== 'string') {
      checker.problems.push({ message: `forEach.items must yield a list (or a string holding a JSON list); this expression is ${nameOf(result)}`, offset: 0 })
    }
  }
  return checker.problems
}
