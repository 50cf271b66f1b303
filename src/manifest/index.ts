// The one entry to the manifest core: parse, schema-check, normalize and
// semantically check a batch of manifests, collecting every located issue.
// The CLI (lint, apply, dry runs) and the server call exactly this.

import type { ManifestIssue } from '../errors.js'
import type { ManifestContext } from './context.js'
import { fileIssue, sortIssues } from './issues.js'
import { rawValueIssues, stepCountIssues } from './limits.js'
import { parseSource, readSources, YAML_LIMITS, type SourceText } from './load.js'
import type { LoadedDocument, NormalizedDocument } from './model.js'
import { DEFAULT_COMPUTE, normalizeDocument } from './normalize.js'
import { checkDocument, checkDuplicates, type SemanticContext } from './semantic.js'
import { validateDocument, type DocumentHeader } from './validate.js'

export type { ManifestContext } from './context.js'
export type { SourceText } from './load.js'
export { parseSource, readSources, YAML_LIMITS } from './load.js'
export { schemaFor, schemaIds, supportedVersions } from './schemas.js'
export { parseStackRef } from './normalize.js'
export { MANIFEST_LIMITS, envNameProblem, type ManifestLimitSettings } from './limits.js'

export interface LintOptions {
  interpolate: boolean
  env: Record<string, string | undefined>
  recursive?: boolean
}

export interface LintResult {
  /** Resources of the documents that have no issue at all, in input order. */
  documents: NormalizedDocument[]
  /** Every problem, sorted by file, then line. */
  issues: ManifestIssue[]
}

/** Parse + schema + normalize + semantic, across all sources. Stacks applied in the same batch become resolvable. */
export function lintSources(sources: SourceText[], ctx: ManifestContext, opts: LintOptions): LintResult {
  const issues: ManifestIssue[] = []
  const loaded: LoadedDocument[] = []
  for (const src of sources) {
    const parsed = parseSource(src, { interpolate: opts.interpolate, env: opts.env })
    loaded.push(...parsed.documents)
    issues.push(...parsed.issues)
  }
  return lintDocuments(loaded, issues, ctx)
}

export async function lintFiles(
  inputs: string[],
  ctx: ManifestContext,
  opts: LintOptions & { stdin?: () => Promise<string> },
): Promise<LintResult> {
  const read = await readSources(inputs, { recursive: opts.recursive ?? false, stdin: opts.stdin })
  const result = lintSources(read.sources, ctx, opts)
  return { documents: result.documents, issues: sortIssues([...read.issues, ...result.issues]) }
}

/** For the server: one already-parsed JSON document (no file) → same checks; file shown as `<request>` with path-only locations. */
export function lintValue(value: unknown, ctx: ManifestContext, opts: { file?: string } = {}): LintResult {
  const file = opts.file ?? '<request>'
  if (tooDeep(value)) {
    return { documents: [], issues: [fileIssue(file, 'E_YAML_LIMIT', `document nesting is too deep (more than ${YAML_LIMITS.maxDepth} levels)`)] }
  }
  const doc: LoadedDocument = { file, index: 0, value, locate: () => ({ line: 0, column: 0 }) }
  return lintDocuments([doc], [], ctx)
}

/** The checks of lintSources on documents already parsed (with their parse issues): a caller that parsed them need not parse again. */
export function lintDocuments(loaded: LoadedDocument[], issues: ManifestIssue[], ctx: ManifestContext): LintResult {
  // `schemaPaths`: where a document's schema issues are; its later checks stay silent at and below them.
  const staged: { nd: NormalizedDocument; header: DocumentHeader; clean: boolean; schemaPaths?: string[] }[] = []
  for (const doc of loaded) {
    // Sizes, NUL bytes and the step count first: nothing after them has to cope with such values.
    const raw = [...rawValueIssues(doc), ...stepCountIssues(doc, ctx.limits)]
    if (raw.length > 0) {
      issues.push(...raw)
      continue
    }
    const checked = validateDocument(doc)
    issues.push(...checked.issues)
    if (!checked.header) continue
    const schemaPaths = checked.issues.length > 0 ? checked.issues.map((i) => i.path) : undefined
    // A document with schema issues is still normalized and checked, so one run reports every
    // problem; its values may have any shape, so a check that trips over one says nothing.
    let normalized: ReturnType<typeof normalizeDocument>
    try {
      normalized = normalizeDocument(doc, checked.header, ctx)
    } catch (err) {
      if (!schemaPaths) throw err
      continue
    }
    issues.push(...(schemaPaths ? outside(normalized.issues, schemaPaths) : normalized.issues))
    if (normalized.resource) {
      staged.push({ nd: { resource: normalized.resource, doc }, header: checked.header, clean: normalized.issues.length === 0 && !schemaPaths, schemaPaths })
    }
  }
  const semanticCtx = withBatch(ctx, staged.filter((s) => !s.schemaPaths).map((s) => s.nd))
  for (const s of staged) {
    let found: ManifestIssue[]
    try {
      found = checkDocument(s.nd, s.header.bodyKey, semanticCtx)
    } catch (err) {
      if (!s.schemaPaths) throw err
      found = []
    }
    if (found.length > 0) s.clean = false
    issues.push(...(s.schemaPaths ? outside(found, s.schemaPaths) : found))
  }
  for (const { nd, issue } of checkDuplicates(staged.map((s) => s.nd))) {
    issues.push(issue)
    const s = staged.find((x) => x.nd === nd)
    if (s) s.clean = false
  }
  return { documents: staged.filter((s) => s.clean).map((s) => s.nd), issues: sortIssues(issues) }
}

/** The issues not at or below a path a schema issue names: there the schema's word is the one that counts. */
function outside(found: readonly ManifestIssue[], schemaPaths: readonly string[]): ManifestIssue[] {
  const under = (path: string, root: string): boolean =>
    root === '' || path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`)
  return found.filter((issue) => !schemaPaths.some((root) => under(issue.path, root)))
}

/** The context plus the stacks and computes defined in this very batch (the catalog adds them: src/stack/catalog.ts). */
function withBatch(ctx: ManifestContext, docs: readonly NormalizedDocument[]): SemanticContext {
  const view = ctx.withBatch(docs.map((d) => d.resource))
  return {
    ...ctx,
    resolveStack: view.resolveStack,
    stackVersions: view.stackVersions,
    ...(view.stackNames ? { stackNames: view.stackNames } : {}),
    computes: view.knownComputes ? new Set([DEFAULT_COMPUTE, ...view.knownComputes]) : undefined,
  }
}


function tooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (typeof node !== 'object' || node === null) continue
    if (depth > YAML_LIMITS.maxDepth) return true
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1])
  }
  return false
}
