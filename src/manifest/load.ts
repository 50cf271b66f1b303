// Reading manifest files and parsing them into located documents. Parsing is
// guarded against hostile input (alias bombs, huge or deeply nested files)
// because the server runs this very code on every apply.

import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Document, Node as YamlNode, Pair, Scalar } from 'yaml'
import type { ManifestIssue } from '../errors.js'
import { yaml } from '../lazy-module.js'
import { fileIssue } from './issues.js'
import { jsonDocumentValue } from './json-fast.js'
import { blockYamlDocuments } from './yaml-fast.js'
import { INTERPOLATE_SCRIPTS, inScript, interpolateString, retypePlainScalar } from './interpolate.js'
import { formatPath, type JsonPath, type LoadedDocument } from './model.js'

export interface SourceText {
  /** As the user named it; `<stdin>` for `-`. */
  file: string
  text: string
}

export const YAML_LIMITS = {
  maxFileBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxDocuments: 1000,
  maxAliasCount: 100,
} as const

const MANIFEST_FILE = /\.(ya?ml|json)$/i

export interface ReadOptions {
  recursive: boolean
  /** Reads standard input; defaults to the process's own. */
  stdin?: () => Promise<string>
}

/** Files, directories (manifest files only, sorted) and `-` for stdin. Problems are collected, not thrown. */
export async function readSources(inputs: string[], opts: ReadOptions): Promise<{ sources: SourceText[]; issues: ManifestIssue[] }> {
  const sources: SourceText[] = []
  const issues: ManifestIssue[] = []
  const seen = new Set<string>()
  const add = async (file: string): Promise<void> => {
    if (seen.has(file)) return
    seen.add(file)
    try {
      sources.push({ file, text: await readFile(file, 'utf8') })
    } catch (err) {
      issues.push(fileIssue(file, 'E_FILE', `cannot read file (${errnoMessage(err)})`))
    }
  }
  for (const input of inputs) {
    if (input === '-') {
      if (seen.has('<stdin>')) continue
      seen.add('<stdin>')
      sources.push({ file: '<stdin>', text: await (opts.stdin ?? readProcessStdin)() })
      continue
    }
    let isDir: boolean
    try {
      isDir = (await stat(input)).isDirectory()
    } catch (err) {
      issues.push(fileIssue(input, 'E_FILE', isMissing(err) ? 'no such file' : `cannot read (${errnoMessage(err)})`))
      continue
    }
    if (!isDir) {
      await add(input)
      continue
    }
    const files: string[] = []
    try {
      await listManifests(input, opts.recursive, files)
    } catch (err) {
      issues.push(fileIssue(input, 'E_FILE', `cannot read folder (${errnoMessage(err)})`))
      continue
    }
    if (files.length === 0) {
      const where = opts.recursive ? 'in folder or below' : 'in folder (-R reads subfolders)'
      issues.push(fileIssue(input, 'E_FILE', `no manifest files (*.yaml, *.yml, *.json) ${where}`))
    }
    files.sort()
    for (const file of files) await add(file)
  }
  return { sources, issues }
}

/** Name of the file that lists entries a folder read skips, like .helmignore. */
export const IGNORE_FILE = '.ctlignore'

/**
 * Entries of `dir` named in its `.ctlignore` (one name or `*` pattern a line,
 * `#` comments, a trailing `/` for folders). It applies only while reading the
 * folder that holds it: a folder named on the command line is always read.
 */
async function ignoredNames(dir: string): Promise<((name: string, isDir: boolean) => boolean) | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, IGNORE_FILE), 'utf8')
  } catch {
    return undefined
  }
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const dirOnly = line.endsWith('/')
      const body = line.replace(/\/+$/, '').replace(/^\.\//, '')
      const pattern = new RegExp('^' + body.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$')
      return { dirOnly, pattern }
    })
  return (name, isDir) => rules.some((rule) => (!rule.dirOnly || isDir) && rule.pattern.test(name))
}

async function listManifests(dir: string, recursive: boolean, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  const ignored = await ignoredNames(dir)
  for (const entry of entries) {
    const full = join(dir, entry.name)
    if (ignored?.(entry.name, entry.isDirectory())) continue
    if (entry.isDirectory()) {
      if (recursive) await listManifests(full, recursive, out)
    } else if (MANIFEST_FILE.test(entry.name)) out.push(full)
  }
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

function errnoMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined
  if (e?.code === 'ENOENT') return 'no such file or directory'
  if (e?.code === 'EACCES') return 'permission denied'
  if (e?.code === 'EISDIR') return 'is a directory'
  return e?.message ?? String(err)
}

export interface ParseOptions {
  interpolate: boolean
  env: Record<string, string | undefined>
}

/**
 * Every non-empty YAML document of one source, with positions. A document with
 * any loading problem is reported and left out, so later stages never see
 * half-parsed or uninterpolated values.
 */
export function parseSource(src: SourceText, opts: ParseOptions): { documents: LoadedDocument[]; issues: ManifestIssue[] } {
  const bytes = Buffer.byteLength(src.text, 'utf8')
  if (bytes > YAML_LIMITS.maxFileBytes) {
    return { documents: [], issues: [fileIssue(src.file, 'E_YAML_LIMIT', `file is too large (${bytes} bytes); the limit is 4 MiB per file`, 1, 1)] }
  }
  // A `$` may be interpolated (or reported): only the YAML path does that.
  const values = opts.interpolate && src.text.includes('$') ? undefined : plainDocuments(src.text)
  if (values === undefined) return parseYamlSource(src, opts)
  // Positions only for a located issue: the YAML path reads the same text once, then.
  let located: LoadedDocument[] | undefined
  const yamlDocument = (index: number): LoadedDocument => {
    located ??= parseYamlSource(src, { interpolate: false, env: {} }).documents
    return located.find((d) => d.index === index)!
  }
  const documents = values.map((value, index): LoadedDocument => ({
    file: src.file,
    index,
    value,
    locate: (path) => yamlDocument(index).locate(path),
    locateText: (path) => yamlDocument(index).locateText!(path),
  }))
  return { documents, issues: [] }
}

/** The values of a JSON or plain block YAML text, when the fast readers are sure of them (json-fast.ts, yaml-fast.ts). */
function plainDocuments(text: string): unknown[] | undefined {
  const json = jsonDocumentValue(text, YAML_LIMITS.maxDepth)
  if (json !== undefined) return [json]
  const docs = blockYamlDocuments(text, YAML_LIMITS.maxDepth)
  return docs && docs.length <= YAML_LIMITS.maxDocuments ? docs : undefined
}

function parseYamlSource(src: SourceText, opts: ParseOptions): { documents: LoadedDocument[]; issues: ManifestIssue[] } {
  const issues: ManifestIssue[] = []
  const documents: LoadedDocument[] = []
  const { isScalar, LineCounter, parseAllDocuments } = yaml()
  const lines = new LineCounter()
  // prettyErrors off: it builds a context snippet with a regular expression
  // that can exhaust memory on one very long line; positions come from `lines`.
  const parsed = parseAllDocuments(src.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true })
  const docs = Array.isArray(parsed) ? parsed : []
  const pos = (offset: number): { line: number; column: number } => {
    const p = lines.linePos(offset)
    return { line: p.line, column: p.col }
  }
  if (docs.length > YAML_LIMITS.maxDocuments) {
    issues.push(fileIssue(src.file, 'E_YAML_LIMIT', `too many documents (${docs.length}); the limit is ${YAML_LIMITS.maxDocuments} per file`, 1, 1))
    return { documents, issues }
  }
  docs.forEach((doc, index) => {
    const at = (offset: number, path: JsonPath, code: ManifestIssue['code'], message: string): void => {
      const { line, column } = pos(offset)
      issues.push({ file: src.file, line, column, path: formatPath(path), code, message })
    }
    if (doc.errors.length > 0) {
      // The parser ran out of stack: whatever else it reported is a consequence.
      const exhausted = doc.errors.find((err) => err.code === 'RESOURCE_EXHAUSTION')
      if (exhausted) {
        at(exhausted.pos[0], [], 'E_YAML_LIMIT', `YAML nesting is too deep (more than ${YAML_LIMITS.maxDepth} levels)`)
        return
      }
      for (const err of doc.errors) {
        const offset = err.pos[0]
        if (err.code === 'DUPLICATE_KEY') at(offset, [], 'E_YAML_SYNTAX', duplicateKeyMessage(src.text, offset))
        else at(offset, [], 'E_YAML_SYNTAX', `YAML syntax error: ${firstLine(err.message)}`)
      }
      return
    }
    const root = doc.contents as YamlNode | null
    if (root === null || (isScalar(root) && root.value === null)) return
    const tooDeep = findTooDeep(root)
    if (tooDeep) {
      at(tooDeep.range?.[0] ?? 0, [], 'E_YAML_LIMIT', `YAML nesting is too deep (more than ${YAML_LIMITS.maxDepth} levels)`)
      return
    }
    if (opts.interpolate) {
      const before = issues.length
      interpolateNodes(root, opts.env, (node, path, name) =>
        at(node.range?.[0] ?? 0, path, 'E_INTERPOLATION', `environment variable ${name} is not set (write $$\{${name}} to keep the text, or use --disable-interpolation)`),
      )
      if (issues.length > before) return
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      if (/excessive alias count/i.test(message)) {
        at(root.range?.[0] ?? 0, [], 'E_YAML_LIMIT', `too many alias expansions (more than ${YAML_LIMITS.maxAliasCount}); aliases that multiply are refused`)
      } else at(root.range?.[0] ?? 0, [], 'E_YAML_SYNTAX', `YAML error: ${firstLine(message)}`)
      return
    }
    documents.push({
      file: src.file,
      index,
      value,
      locate: (path) => locateIn(doc, root, path, pos),
      locateText: (path) => textStart(doc, root, path, src.text, pos),
    })
  })
  return { documents, issues }
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message
  return line.replace(/ at line \d+, column \d+:?$/, '')
}

function duplicateKeyMessage(text: string, offset: number): string {
  // The error points at the repeated key; read it back from the source.
  const m = /^(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([^\s:#,[\]{}][^:\n]*?))\s*:/.exec(text.slice(offset, offset + 200))
  const key = m ? (m[1] ?? m[2] ?? m[3]) : undefined
  return key ? `duplicate key "${key}"` : 'duplicate key'
}

/** First collection nested deeper than the limit, found without recursion. */
function findTooDeep(root: YamlNode): YamlNode | undefined {
  const { isMap, isPair, isSeq } = yaml()
  const stack: [YamlNode, number][] = [[root, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (!isMap(node) && !isSeq(node)) continue
    if (depth > YAML_LIMITS.maxDepth) return node
    for (const item of node.items) {
      if (isPair(item)) {
        if (item.key && (isMap(item.key) || isSeq(item.key))) stack.push([item.key as YamlNode, depth + 1])
        if (item.value) stack.push([item.value as YamlNode, depth + 1])
      } else if (item) stack.push([item as YamlNode, depth + 1])
    }
  }
  return undefined
}

/**
 * Interpolates string values in place (never keys), reporting each unset variable at its scalar.
 * Command lines (inScript) are the step shell's, unless the document says `interpolate: scripts`.
 */
function interpolateNodes(
  root: YamlNode,
  env: Record<string, string | undefined>,
  onMissing: (node: YamlNode, path: JsonPath, name: string) => void,
): void {
  const { isMap, isScalar, isSeq } = yaml()
  const scripts = isMap(root) && root.items.some((p) => keyString(p.key) === 'interpolate' && isScalar(p.value) && p.value.value === INTERPOLATE_SCRIPTS)
  const stack: [YamlNode, JsonPath][] = [[root, []]]
  while (stack.length > 0) {
    const [node, path] = stack.pop()!
    if (isScalar(node)) {
      if (typeof node.value !== 'string') continue
      if (!scripts && inScript(path)) continue
      const { value, missing } = interpolateString(node.value, env)
      for (const name of missing) onMissing(node, path, name)
      if (value !== node.value) setScalar(node, value)
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (pair.value) stack.push([pair.value as YamlNode, [...path, keyString(pair.key)]])
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (item) stack.push([item as YamlNode, [...path, i]])
      })
    }
  }
}

function setScalar(node: Scalar, value: string): void {
  node.value = node.type === 'PLAIN' ? retypePlainScalar(value) : value
}

function keyString(key: unknown): string {
  const { isScalar } = yaml()
  if (isScalar(key)) return String(key.value)
  return String(key)
}

/**
 * Position of the node at `path`: the key of a mapping entry, the item of a
 * sequence; for a path that does not exist, the deepest entry that does.
 */
/**
 * Where the text of the string scalar at `path` starts, when each character of its value sits at its own
 * column of one line (plain, or quoted without escapes): a CEL offset then maps to a column.
 */
function textStart(
  doc: Document,
  root: YamlNode,
  path: JsonPath,
  text: string,
  pos: (offset: number) => { line: number; column: number },
): { line: number; column: number } | undefined {
  const { isAlias, isMap, isScalar, isSeq } = yaml()
  let node: YamlNode | null = root
  for (const part of path) {
    if (node && isAlias(node)) node = (node.resolve(doc) as YamlNode | undefined) ?? null
    if (typeof part === 'string' && isMap(node)) node = (node.items.find((p) => keyString(p.key) === part)?.value as YamlNode | null) ?? null
    else if (typeof part === 'number' && isSeq(node)) node = (node.items[part] as YamlNode | undefined) ?? null
    else return undefined
  }
  if (!node || !isScalar(node) || typeof node.value !== 'string' || !node.range) return undefined
  const value = node.value
  const quoted = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE'
  if (!quoted && node.type !== 'PLAIN') return undefined
  const start = node.range[0] + (quoted ? 1 : 0)
  return text.slice(start, start + value.length) === value && !value.includes('\n') ? pos(start) : undefined
}

function locateIn(
  doc: Document,
  root: YamlNode,
  path: JsonPath,
  pos: (offset: number) => { line: number; column: number },
): { line: number; column: number } {
  const { isAlias, isMap, isSeq } = yaml()
  let node: YamlNode | null = root
  let offset = root.range?.[0] ?? 0
  for (const part of path) {
    if (node && isAlias(node)) node = (node.resolve(doc) as YamlNode | undefined) ?? null
    if (!node) break
    if (typeof part === 'string' && isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find((p) => keyString(p.key) === part)
      if (!pair) break
      const keyNode = pair.key as YamlNode | null
      offset = keyNode?.range?.[0] ?? (pair.value as YamlNode | null)?.range?.[0] ?? offset
      node = (pair.value as YamlNode | null) ?? null
    } else if (typeof part === 'number' && isSeq(node)) {
      const item = node.items[part] as YamlNode | undefined
      if (!item) break
      offset = item.range?.[0] ?? offset
      node = item
    } else break
  }
  return pos(offset)
}
