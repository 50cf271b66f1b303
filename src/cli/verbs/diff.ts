// `ctl resource diff -f`: what an apply would change, as kubectl diff shows it.
// The server normalizes through its real apply path (dry run); exit 0 when
// nothing would change, 1 when something would, >1 on error.
import { createTwoFilesPatch } from 'diff'
import type { ApplyResultItem } from '../../api/types.js'
import { ManifestError } from '../../errors.js'
import { parseSource, readSources } from '../../manifest/index.js'
import type { LoadedDocument } from '../../manifest/model.js'
import type { Io } from '../io.js'
import { printReport, toYaml, type OutputFormat } from '../output.js'
import type { FileOptions } from './files.js'
import { locateServerIssue } from './locate.js'
import type { Session } from './session.js'

export async function runDiff(session: Session, files: FileOptions, io: Io, output: OutputFormat = 'table'): Promise<number> {
  const read = await readSources(files.files, { recursive: files.recursive, stdin: files.stdin })
  const documents: LoadedDocument[] = []
  const issues = [...read.issues]
  for (const source of read.sources) {
    const parsed = parseSource(source, { interpolate: files.interpolate, env: files.env })
    documents.push(...parsed.documents)
    issues.push(...parsed.issues)
  }
  if (issues.length > 0) throw new ManifestError(issues)
  let results: ApplyResultItem[]
  try {
    const response = await session.client.apply(session.workspace, documents.map((d) => ({ source: { file: d.file, index: d.index }, manifest: d.value })), { dryRun: true })
    results = response.results
  } catch (error) {
    if (error instanceof ManifestError) throw new ManifestError(error.issues.map((i) => locateServerIssue(i, documents)))
    throw error
  }
  const report = results.map((r) => {
    const id = `${r.type}/${r.name}${r.workspace ? ` (${r.workspace})` : ''}`
    const before = r.current === undefined ? '' : toYaml(r.current)
    const after = toYaml(r.manifest)
    const diff = r.outcome === 'unchanged' ? '' : createTwoFilesPatch(`live ${id}`, `applied ${id}`, before, after, r.current === undefined ? 'does not exist' : `revision ${r.revision - 1}`, 'after apply').trimEnd()
    return { workspace: r.workspace, type: r.type, name: r.name, outcome: r.outcome, diff }
  })
  const changed = report.some((r) => r.outcome !== 'unchanged')
  printReport(io, output, { changed, resources: report }, () => {
    for (const r of report) if (r.diff) io.out(r.diff)
  })
  return changed ? 1 : 0
}
