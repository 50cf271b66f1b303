// Pre-pass that rewrites Go text/template syntax (what DataOS stack and
// projection templates look like) into a handlebars program. Literal text and
// literal values never reach the handlebars lexer: they go into a side table
// and are emitted through helpers, so `{"a": {{.X}}}` or a trailing backslash
// cannot be misread by handlebars. Paths become helper calls too, so every
// reference is resolved by our own strict lookup, which names the reference.

/** A path referenced by a template, as written (`.secrets.app.KEY`, `$.Name`, `$v.x`). */
export interface TemplateReference {
  text: string
  segments: string[]
  /** `dot`: relative to the current dot at top level; `nested`: dot inside with/range; `root`: `$`; `var`: a range variable. */
  base: 'dot' | 'nested' | 'root' | 'var'
  /** Offset of the reference in the template source. */
  offset: number
}

export interface TranslatedTemplate {
  program: string
  literals: unknown[]
  references: TemplateReference[]
}

/** Functions a template may call; each maps to a handlebars helper `ctl_<name>`. */
export const TEMPLATE_FUNCTIONS = [
  'toYaml', 'indent', 'nindent', 'quote', 'default', 'join', 'upper', 'lower', 'trim', 'b64enc',
  'eq', 'ne', 'not', 'and', 'or', 'kindIs',
] as const

export class TemplateSyntaxError extends Error {
  readonly offset: number
  constructor(message: string, offset: number) {
    super(message)
    this.offset = offset
  }
}

type Token =
  | { kind: 'string' | 'number'; value: string | number; at: number }
  | { kind: 'ident' | 'path' | 'var'; value: string; at: number }
  | { kind: '(' | ')' | '|' | ',' | ':='; at: number }

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y
const FIELD = /(?:\.[A-Za-z_][A-Za-z0-9_]*)+/y
const NUMBER = /-?\d+(?:\.\d+)?/y

function tokenize(src: string, base: number): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    const at = base + i
    if (/\s/.test(c)) { i++; continue }
    if (c === '(' || c === ')' || c === '|' || c === ',') { tokens.push({ kind: c, at }); i++; continue }
    if (c === ':' && src[i + 1] === '=') { tokens.push({ kind: ':=', at }); i += 2; continue }
    if (c === '"') {
      let j = i + 1
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
      if (j >= src.length) throw new TemplateSyntaxError('unterminated string', at)
      let value: string
      try { value = JSON.parse(src.slice(i, j + 1)) as string } catch { throw new TemplateSyntaxError(`bad string ${src.slice(i, j + 1)}`, at) }
      tokens.push({ kind: 'string', value, at }); i = j + 1; continue
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1)
      if (j < 0) throw new TemplateSyntaxError('unterminated raw string', at)
      tokens.push({ kind: 'string', value: src.slice(i + 1, j), at }); i = j + 1; continue
    }
    if (c === '.') {
      FIELD.lastIndex = i
      const m = FIELD.exec(src)
      if (m) { tokens.push({ kind: 'path', value: m[0], at }); i += m[0].length; continue }
      tokens.push({ kind: 'path', value: '.', at }); i++; continue
    }
    if (c === '$') {
      IDENT.lastIndex = i + 1
      const name = IDENT.exec(src)?.[0] ?? ''
      FIELD.lastIndex = i + 1 + name.length
      const fields = FIELD.exec(src)?.[0] ?? ''
      tokens.push({ kind: 'var', value: `$${name}${fields}`, at }); i += 1 + name.length + fields.length; continue
    }
    NUMBER.lastIndex = i
    const num = NUMBER.exec(src)
    if (num) { tokens.push({ kind: 'number', value: Number(num[0]), at }); i += num[0].length; continue }
    IDENT.lastIndex = i
    const id = IDENT.exec(src)
    if (id) { tokens.push({ kind: 'ident', value: id[0], at }); i += id[0].length; continue }
    throw new TemplateSyntaxError(`unexpected "${c}"`, at)
  }
  return tokens
}

function pipesIntoDefault(tokens: Token[], from: number): boolean {
  let depth = 0
  for (let i = from; i < tokens.length; i++) {
    const k = tokens[i]!.kind
    if (k === '(') depth++
    else if (k === ')') { if (depth === 0) return false; depth-- }
    else if (k === '|' && depth === 0) {
      const next = tokens[i + 1]
      return next?.kind === 'ident' && next.value === 'default'
    }
  }
  return false
}

type Block = { kind: 'if' | 'with' | 'each'; at: number; vars: string[] }

class Translator {
  readonly literals: unknown[] = []
  readonly references: TemplateReference[] = []
  private blocks: Block[] = []
  private vars = new Set<string>()

  literal(value: unknown): string {
    this.literals.push(value)
    return `(ctlLit ${this.literals.length - 1})`
  }

  private inNested(): boolean {
    return this.blocks.some((b) => b.kind === 'with' || b.kind === 'each')
  }

  private reference(tok: Token & { value: string }, tolerant: boolean): string {
    const text = tok.value
    let baseExpr: string
    let base: TemplateReference['base']
    let rest: string
    if (tok.kind === 'path') {
      baseExpr = 'this'; base = this.inNested() ? 'nested' : 'dot'; rest = text === '.' ? '' : text
    } else {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?(.*)$/.exec(text)!
      if (m[1] === undefined) { baseExpr = '@root'; base = 'root' } else {
        if (!this.vars.has(m[1])) throw new TemplateSyntaxError(`undefined variable "$${m[1]}"`, tok.at)
        baseExpr = `ctlv_${m[1]}`; base = 'var'
      }
      rest = m[2] ?? ''
    }
    const segments = rest.split('.').filter((s) => s !== '')
    this.references.push({ text, segments, base, offset: tok.at })
    return `(${tolerant ? 'ctlTry' : 'ctlGet'} ${baseExpr} ${this.references.length - 1})`
  }

  /** pipeline := command ('|' command)*; the piped value is the last argument of the next command. */
  pipeline(tokens: Token[], pos: { i: number }, tolerant: boolean, stop: ')' | 'end'): string {
    // `.X | default "a"`: the piped value is default's argument, so it may be absent.
    let expr = this.command(tokens, pos, undefined, tolerant || pipesIntoDefault(tokens, pos.i))
    while (pos.i < tokens.length && tokens[pos.i]!.kind === '|') {
      pos.i++
      expr = this.command(tokens, pos, expr, false)
    }
    if (stop === 'end' && pos.i < tokens.length) throw new TemplateSyntaxError('unexpected token', tokens[pos.i]!.at)
    return expr
  }

  private command(tokens: Token[], pos: { i: number }, piped: string | undefined, tolerant: boolean): string {
    const first = tokens[pos.i]
    if (!first || first.kind === '|' || first.kind === ')') throw new TemplateSyntaxError('missing value', first?.at ?? 0)
    if (first.kind === 'ident' && !['true', 'false', 'nil'].includes(first.value)) {
      const fn = first.value
      if (!(TEMPLATE_FUNCTIONS as readonly string[]).includes(fn)) throw new TemplateSyntaxError(`unknown function "${fn}"`, first.at)
      pos.i++
      const args: string[] = []
      // `default` tolerates absent values: that is its whole point.
      const tolerantArgs = fn === 'default'
      while (pos.i < tokens.length && tokens[pos.i]!.kind !== '|' && tokens[pos.i]!.kind !== ')') {
        args.push(this.operand(tokens, pos, tolerantArgs))
      }
      if (piped !== undefined) args.push(piped)
      return `(ctl_${fn}${args.map((a) => ` ${a}`).join('')})`
    }
    if (piped !== undefined) throw new TemplateSyntaxError('can only pipe into a function', first.at)
    const value = this.operand(tokens, pos, tolerant)
    const next = tokens[pos.i]
    if (next && next.kind !== '|' && next.kind !== ')') throw new TemplateSyntaxError(`unexpected argument after a value`, next.at)
    return value
  }

  private operand(tokens: Token[], pos: { i: number }, tolerant: boolean): string {
    const tok = tokens[pos.i]!
    pos.i++
    switch (tok.kind) {
      case 'string':
      case 'number':
        return this.literal(tok.value)
      case 'path':
      case 'var':
        return this.reference(tok, tolerant)
      case 'ident':
        if (tok.value === 'true') return this.literal(true)
        if (tok.value === 'false') return this.literal(false)
        if (tok.value === 'nil') return this.literal(null)
        if (!(TEMPLATE_FUNCTIONS as readonly string[]).includes(tok.value)) throw new TemplateSyntaxError(`unknown function "${tok.value}"`, tok.at)
        return `(ctl_${tok.value})`
      case '(': {
        const inner = this.pipeline(tokens, pos, tolerant, ')')
        if (tokens[pos.i]?.kind !== ')') throw new TemplateSyntaxError('missing ")"', tok.at)
        pos.i++
        return inner
      }
      default:
        throw new TemplateSyntaxError(`unexpected "${tok.kind}"`, tok.at)
    }
  }

  /** One `{{ ... }}` action → handlebars. */
  action(content: string, at: number): string {
    const tokens = tokenize(content, at)
    if (tokens.length === 0) throw new TemplateSyntaxError('empty action', at)
    const head = tokens[0]!
    const keyword = head.kind === 'ident' ? head.value : ''
    const pos = { i: 1 }
    switch (keyword) {
      case 'if':
      case 'with': {
        if (tokens.length === 1) throw new TemplateSyntaxError(`missing value for ${keyword}`, head.at)
        const cond = this.pipeline(tokens, pos, true, 'end')
        this.blocks.push({ kind: keyword, at: head.at, vars: [] })
        return `{{#${keyword} ${cond}}}`
      }
      case 'range': {
        const vars: string[] = []
        const assign = tokens.findIndex((t) => t.kind === ':=')
        if (assign >= 0) {
          for (const t of tokens.slice(1, assign)) {
            if (t.kind === ',') continue
            if (t.kind !== 'var' || !/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(t.value)) throw new TemplateSyntaxError('bad range variable', t.at)
            vars.push(t.value.slice(1))
          }
          if (vars.length < 1 || vars.length > 2) throw new TemplateSyntaxError('range takes one or two variables', head.at)
          pos.i = assign + 1
        }
        if (pos.i >= tokens.length) throw new TemplateSyntaxError('missing value for range', head.at)
        const list = this.pipeline(tokens, pos, false, 'end')
        // Go: `$i, $v := ` (index first); handlebars block params: `as |value index|`.
        const params = vars.length === 2 ? [vars[1]!, vars[0]!] : vars
        this.blocks.push({ kind: 'each', at: head.at, vars })
        for (const v of vars) this.vars.add(v)
        return `{{#each ${list}${params.length ? ` as |${params.map((v) => `ctlv_${v}`).join(' ')}|` : ''}}}`
      }
      case 'else': {
        const open = this.blocks[this.blocks.length - 1]
        if (!open) throw new TemplateSyntaxError('else without if, with or range', head.at)
        if (tokens.length === 1) return '{{else}}'
        if (tokens[1]!.kind !== 'ident' || tokens[1]!.value !== 'if' || open.kind !== 'if') throw new TemplateSyntaxError('bad else', head.at)
        pos.i = 2
        return `{{else if ${this.pipeline(tokens, pos, true, 'end')}}}`
      }
      case 'end': {
        const open = this.blocks.pop()
        if (!open || tokens.length > 1) throw new TemplateSyntaxError('unexpected end', head.at)
        for (const v of open.vars) this.vars.delete(v)
        return `{{/${open.kind}}}`
      }
      case 'define':
      case 'template':
      case 'block':
        throw new TemplateSyntaxError(`"${keyword}" is not supported`, head.at)
      default:
        pos.i = 0
        return `{{ctlOut ${this.pipeline(tokens, pos, false, 'end')}}}`
    }
  }

  finish(): void {
    const open = this.blocks[this.blocks.length - 1]
    if (open) throw new TemplateSyntaxError(`unclosed ${open.kind === 'each' ? 'range' : open.kind}: missing {{end}}`, open.at)
  }
}

/** Rewrites a Go-style template into a handlebars program plus its literal and reference tables. */
export function translateTemplate(source: string): TranslatedTemplate {
  const t = new Translator()
  const out: string[] = []
  // Literal chunks are kept aside until the next action so `{{-` can trim them.
  let pending = ''
  let i = 0
  while (i <= source.length) {
    const open = source.indexOf('{{', i)
    if (open < 0) { pending += source.slice(i); break }
    pending += source.slice(i, open)
    let start = open + 2
    let trimLeft = false
    if (source.startsWith('- ', start) || source.startsWith('-\t', start) || source.startsWith('-\n', start)) { trimLeft = true; start += 1 }
    // Find the closing braces, skipping string literals that may contain `}}`.
    let j = start
    let close = -1
    while (j < source.length) {
      const c = source[j]
      if (c === '"') { j++; while (j < source.length && source[j] !== '"') j += source[j] === '\\' ? 2 : 1; j++; continue }
      if (c === '`') { const e = source.indexOf('`', j + 1); j = e < 0 ? source.length : e + 1; continue }
      if (source.startsWith('}}', j)) { close = j; break }
      j++
    }
    if (close < 0) throw new TemplateSyntaxError('unclosed action: missing "}}"', open)
    let end = close
    let trimRight = false
    if (end - 2 >= start && source[end - 1] === '-' && /\s/.test(source[end - 2]!)) { trimRight = true; end -= 1 }
    if (trimLeft) pending = pending.replace(/\s+$/, '')
    if (pending) out.push(`{{ctlText ${t.literals.push(pending) - 1}}}`)
    pending = ''
    const content = source.slice(start, end)
    const trimmed = content.trim()
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/')) throw new TemplateSyntaxError('unclosed comment', open)
    } else {
      out.push(t.action(content, start))
    }
    i = close + 2
    if (trimRight) { const m = /^\s*/.exec(source.slice(i))!; i += m[0].length }
  }
  if (pending) out.push(`{{ctlText ${t.literals.push(pending) - 1}}}`)
  t.finish()
  return { program: out.join(''), literals: t.literals, references: t.references }
}

/** 1-based line and column of an offset, for error messages. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset)
  const line = before.split('\n').length
  return { line, column: offset - before.lastIndexOf('\n') }
}
