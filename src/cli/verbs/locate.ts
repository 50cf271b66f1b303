// Server-side manifest issues come back as (document index, JSON path); the
// client still has the sources, so it turns them into FILE:LINE:COL.
import type { ManifestIssue } from '../../errors.js'
import type { JsonPath, LoadedDocument } from '../../manifest/model.js'

/** `spec.dag[1].depends[0]` → `['spec','dag',1,'depends',0]`. */
export function parsePath(path: string): JsonPath {
  const out: (string | number)[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]))
    else if (m[1] !== undefined) out.push(m[1])
  }
  return out
}

export function locateServerIssue(issue: ManifestIssue & { document?: number }, documents: readonly LoadedDocument[]): ManifestIssue {
  const doc = issue.document !== undefined ? documents[issue.document] : undefined
  if (!doc) return issue
  const { line, column } = doc.locate(parsePath(issue.path))
  return { code: issue.code, message: issue.message, path: issue.path, file: doc.file, line, column }
}
