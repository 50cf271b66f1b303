// Plain block YAML (what people and `yaml.stringify` write: indented mappings and sequences,
// plain and quoted one-line scalars, `|` scripts, comments, `---` between documents) read in one
// pass over its lines, several times faster than the `yaml` package's lexer, parser and composer,
// and without loading it. Like json-fast.ts it only answers when the values are certainly those of
// the YAML path (src/manifest/load.ts): anything else (anchors, aliases, tags, merge keys,
// duplicate keys, `>` folding, multi-line plain scalars, escapes JSON lacks, odd indentation,
// numbers beyond 15 digits, tabs, …) says undefined, and the YAML path decides, with its errors.

// Raw characters the YAML path reads differently or refuses (see json-fast.ts), and C0 controls.
// Unicode spaces too: JavaScript's trim() removes them, YAML does not.
const NOT_PLAIN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2028\u2029\ufeff\ud800-\udfff\t\r]/u
// A plain scalar that is certainly a string in YAML 1.2's core schema: it starts with a letter,
// `/` or `_` (so it is no number, `.inf` or `~`), and it is not a null or boolean word.
const PLAIN_START = /^[A-Za-z_/]/
const CORE_WORDS = new Map<string, null | boolean>([
  ['null', null], ['Null', null], ['NULL', null], ['true', true], ['True', true], ['TRUE', true], ['false', false], ['False', false], ['FALSE', false],
])
// Decimal integers and fractions parseInt / parseFloat read exactly (at most 15 digits).
const SMALL_INT = /^-?[0-9]{1,15}$/
const SMALL_FLOAT = /^-?[0-9]{1,15}\.[0-9]{1,15}$/
// Every number form of the core schema (yaml's schema/core/int.js and float.js).
const CORE_NUMBER = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/
// A plain key: letters, digits, `_ - . /` (no spaces, no indicators), starting with a letter or `_`.
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/
// A double-quoted scalar whose escapes JSON shares (YAML has more: those go to the YAML path).
const JSON_QUOTED = /^"(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/

class NotPlain extends Error {}
const aside = (): never => {
  throw new NotPlain()
}

interface Line {
  indent: number
  /** The text after the indentation. */
  body: string
}

/** The values of the documents of `text`, or undefined when the YAML path must read it. */
export function blockYamlDocuments(text: string, maxDepth: number): unknown[] | undefined {
  if (NOT_PLAIN_TEXT.test(text)) return undefined
  try {
    return new Reader(text, maxDepth).documents()
  } catch (err) {
    if (err instanceof NotPlain || err instanceof RangeError) return undefined
    throw err
  }
}

class Reader {
  private readonly lines: string[]
  private i = 0
  private peekedAt = -1
  private peeked: Line | undefined

  constructor(
    text: string,
    private readonly maxDepth: number,
  ) {
    this.lines = text.split('\n')
  }

  /** Documents separated by `---` lines (one may open the file); none may be empty. */
  documents(): unknown[] {
    const docs: unknown[] = []
    let next = this.peek()
    if (next && isSeparator(next)) {
      this.i++
      next = this.peek()
    }
    for (;;) {
      if (!next || next.indent !== 0 || !this.startsCollection(next.body)) return aside()
      docs.push(this.node(0, 1, false))
      const after = this.peek()
      if (!after) return docs
      if (!isSeparator(after)) aside()
      this.i++
      next = this.peek()
    }
  }

  /** The next line with content (not blank, not a comment), without consuming it. */
  private peek(): Line | undefined {
    // Asked several times per line: the answer is kept until the reader moves.
    if (this.peekedAt === this.i) return this.peeked
    this.peeked = this.scan()
    this.peekedAt = this.i
    return this.peeked
  }

  private scan(): Line | undefined {
    while (this.i < this.lines.length) {
      const raw = this.lines[this.i]!
      const body = raw.trimStart()
      if (body === '' || body.startsWith('#')) {
        this.i++
        continue
      }
      if (body.startsWith('%') || body.startsWith('...')) aside()
      return { indent: raw.length - body.length, body }
    }
    return undefined
  }

  private startsCollection(body: string): boolean {
    return body === '-' || body.startsWith('- ') || keyOf(body) !== undefined
  }

  /** The collection whose first line is the next one, at `indent`. */
  private node(indent: number, depth: number, seqOnly: boolean): unknown {
    if (depth > this.maxDepth) aside()
    const first = this.peek()!
    if (first.body === '-' || first.body.startsWith('- ')) return this.sequence(indent, depth)
    if (seqOnly) aside()
    this.i++
    return this.mapping(indent, depth, first.body)
  }

  private sequence(indent: number, depth: number): unknown[] {
    const items: unknown[] = []
    for (;;) {
      const line = this.peek()
      if (!line || line.indent < indent) return items
      if (line.indent > indent) aside()
      if (line.body !== '-' && !line.body.startsWith('- ')) return items
      this.i++
      const rest = line.body.slice(1)
      const inline = rest.trimStart()
      if (inline === '' || inline.startsWith('#')) {
        items.push(this.nested(indent, depth, false))
        continue
      }
      const column = indent + 1 + (rest.length - inline.length)
      if (inline === '-' || inline.startsWith('- ')) aside()
      if (keyOf(inline) !== undefined) {
        // `- key: value`: a mapping whose keys sit at the column of the first one (its line read).
        if (depth + 1 > this.maxDepth) aside()
        items.push(this.mapping(column, depth + 1, inline))
        continue
      }
      items.push(this.scalarValue(inline, indent, depth))
    }
  }

  /** A block mapping at `indent` whose first line (already read) is `firstBody`. */
  private mapping(indent: number, depth: number, firstBody: string): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    let body = firstBody
    for (;;) {
      const { name, rest } = keyOf(body) ?? aside()
      if (name === '<<' || name === '__proto__' || Object.prototype.hasOwnProperty.call(out, name)) aside()
      const inline = rest.trimStart()
      if (inline === '' || inline.startsWith('#')) out[name] = this.nested(indent, depth, true)
      else out[name] = this.scalarValue(inline, indent, depth)
      const next = this.peek()
      if (!next || next.indent < indent || isSeparator(next)) return out
      if (next.indent > indent) aside()
      if (next.body === '-' || next.body.startsWith('- ')) return out
      body = next.body
      this.i++
    }
  }

  /** The value of `key:` or `-` with nothing after it: a collection on the next lines, or null. */
  private nested(indent: number, depth: number, inMapping: boolean): unknown {
    const next = this.peek()
    if (next && next.indent > indent) {
      if (!this.startsCollection(next.body)) aside()
      return this.node(next.indent, depth + 1, false)
    }
    // A mapping's sequence may sit at the mapping's own indentation.
    if (inMapping && next && next.indent === indent && (next.body === '-' || next.body.startsWith('- '))) return this.node(indent, depth + 1, true)
    return null
  }

  /**
   * A scalar or one-line flow collection after `key: ` or `- ` (the line already consumed); `parent` is the
   * key's or dash's column, `depth` that of the collection holding it.
   */
  private scalarValue(inline: string, parent: number, depth: number): unknown {
    if (inline === '|' || inline === '|-') return this.literal(parent, inline === '|-')
    const c = inline[0]!
    if ((c === '[' || c === '{') && depth + 1 > this.maxDepth) aside()
    let value: unknown
    let after: string
    if (c === '"') {
      const m = JSON_QUOTED.exec(inline) ?? aside()
      value = JSON.parse(m[0]) as string
      after = inline.slice(m[0].length)
    } else if (c === "'") {
      const m = /^'((?:[^']|'')*)'/.exec(inline) ?? aside()
      value = m[1]!.replace(/''/g, "'")
      after = inline.slice(m[0].length)
    } else if (c === '[') {
      const m = /^\[([^[\]{}#]*)\]/.exec(inline) ?? aside()
      value = flowItems(m[1]!)
      after = inline.slice(m[0].length)
    } else if (c === '{') {
      const m = /^\{([^[\]{}#]*)\}/.exec(inline) ?? aside()
      value = flowPairs(m[1]!)
      after = inline.slice(m[0].length)
    } else {
      const hash = inline.search(/ #/)
      const plain = (hash < 0 ? inline : inline.slice(0, hash)).trimEnd()
      value = plainScalar(plain)
      after = hash < 0 ? '' : inline.slice(hash)
    }
    // Only a comment may follow, and nothing more indented may continue it on the next lines.
    if (after !== '' && !/^ +(#.*)?$/.test(after)) aside()
    const next = this.peek()
    if (next && next.indent > parent) aside()
    return value
  }

  /** `|` or `|-` after `key: ` / `- ` at column `parent`: the lines below it, more indented. */
  private literal(parent: number, strip: boolean): string {
    const start = this.i
    let end = start
    let indent = -1
    while (end < this.lines.length) {
      const raw = this.lines[end]!
      const body = raw.trimStart()
      const spaces = raw.length - body.length
      if (body === '') {
        // Spaces on a blank line: the YAML path judges what they mean.
        if (raw !== '') aside()
        end++
        continue
      }
      if (indent < 0) {
        if (spaces <= parent) break
        indent = spaces
      } else if (spaces < indent) {
        if (spaces > parent) aside()
        break
      }
      end++
    }
    // No content, or the file ends without a line break: the YAML path judges.
    if (indent < 0 || (end === this.lines.length && this.lines[end - 1] !== '')) aside()
    const content = this.lines.slice(start, end).map((l) => l.slice(indent))
    while (content.length > 0 && content[content.length - 1] === '') content.pop()
    this.i = end
    return content.join('\n') + (strip ? '' : '\n')
  }
}

function isSeparator(line: Line): boolean {
  if (line.indent === 0 && line.body.startsWith('---') && line.body !== '---') aside()
  return line.indent === 0 && line.body === '---'
}

/** `key: rest` or `key:` of a block mapping line, with a plain or double-quoted key. */
function keyOf(body: string): { name: string; rest: string } | undefined {
  let name: string
  let at: number
  if (body.startsWith('"')) {
    const m = JSON_QUOTED.exec(body)
    if (!m) return undefined
    name = JSON.parse(m[0]) as string
    at = m[0].length
  } else {
    at = body.indexOf(':')
    if (at <= 0) return undefined
    name = body.slice(0, at)
    if (!PLAIN_KEY.test(name) || CORE_WORDS.has(name)) return undefined
  }
  if (body[at] !== ':' || (body.length > at + 1 && body[at + 1] !== ' ')) return undefined
  // YAML refuses an implicit key whose `:` is more than 1024 characters after its start.
  if (at > 1024) aside()
  return { name, rest: body.slice(at + 1) }
}

/** A plain scalar as the core schema reads it, when that is certain. */
function plainScalar(text: string): unknown {
  if (text === '') aside()
  if (PLAIN_START.test(text)) {
    if (CORE_WORDS.has(text)) return CORE_WORDS.get(text)
    // `a: b` or a trailing `:` would be a mapping; `a ` ends with a space the scanner trimmed.
    if (/: |:$/.test(text)) aside()
    return text
  }
  if (SMALL_INT.test(text)) return parseInt(text, 10)
  if (SMALL_FLOAT.test(text)) return parseFloat(text)
  // Another number form (hex, octal, exponents, .inf, long digits): the YAML path reads it.
  if (CORE_NUMBER.test(text)) return aside()
  // Not a number in the core schema either (`12:30`, `1.20.3`, `-x`): a string, unless it looks like YAML syntax.
  if (!/^[0-9.+-]/.test(text) || /^[-.]($| )|: |:$/.test(text)) return aside()
  return text
}

/** The entries of a one-line flow mapping: `key: item` (a plain or double-quoted key, an item as in a flow sequence). */
function flowPairs(inner: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (inner.trim() === '') return out
  for (const raw of inner.split(',')) {
    const { name, rest } = keyOf(raw.trim()) ?? aside()
    if (name === '<<' || name === '__proto__' || Object.prototype.hasOwnProperty.call(out, name) || rest === '') aside()
    out[name] = flowItem(rest)
  }
  return out
}

/** The items of a one-line flow sequence: plain strings, numbers and quoted strings (JSON-like escapes). */
function flowItems(inner: string): unknown[] {
  if (inner.trim() === '') return []
  return inner.split(',').map(flowItem)
}

function flowItem(raw: string): unknown {
  const item = raw.trim()
  if (item.startsWith('"')) {
    const m = JSON_QUOTED.exec(item)
    return m && m[0].length === item.length ? (JSON.parse(item) as string) : aside()
  }
  const single = /^'((?:[^']|'')*)'$/.exec(item)
  if (single) return single[1]!.replace(/''/g, "'")
  if (item === '' || /[:'"&*!|>%@`?]/.test(item)) aside()
  return plainScalar(item)
}
