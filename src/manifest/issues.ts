// Building and ordering located issues, shared by every manifest stage.

import type { ErrorCode, ManifestIssue } from '../errors.js'
import { formatPath, type JsonPath, type LoadedDocument } from './model.js'

/** An issue at `path` of `doc`, located at that node or its nearest existing ancestor. */
export function issueAt(doc: LoadedDocument, code: ErrorCode, path: JsonPath, message: string): ManifestIssue {
  const { line, column } = doc.locate(path)
  return { file: doc.file, line, column, path: formatPath(path), code, message }
}

/** An issue about a whole file (no position inside it). */
export function fileIssue(file: string, code: ErrorCode, message: string, line = 0, column = 0): ManifestIssue {
  return { file, line, column, path: '', code, message }
}

/** By file, then line, then column; stable otherwise, and without exact repeats. */
export function sortIssues(issues: ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>()
  const unique = issues.filter((issue) => {
    const key = `${issue.file}\0${issue.line}\0${issue.column}\0${issue.path}\0${issue.code}\0${issue.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  return unique
    .map((issue, order) => ({ issue, order }))
    .sort(
      (a, b) =>
        (a.issue.file < b.issue.file ? -1 : a.issue.file > b.issue.file ? 1 : 0) ||
        a.issue.line - b.issue.line ||
        a.issue.column - b.issue.column ||
        a.order - b.order,
    )
    .map(({ issue }) => issue)
}

/**
 * A raw value for a message. Never String(value) on input: `{"toString": 1}` or a null-prototype object makes
 * String throw; long values are cut.
 */
export function shownValue(value: unknown): string {
  let text: string
  if (typeof value === 'string') text = value
  else if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) text = `${value}`
  else {
    try {
      text = JSON.stringify(value) ?? typeof value
    } catch {
      text = typeof value
    }
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}
