// Lint of webhook triggers (`spec.triggers`): unique names (they end the hook's URL), a secret name, and
// param mappings onto declared params whose CEL reads only the request (`body`, `headers`). That the
// secret exists and holds HMAC_KEY is checked at apply (src/controlplane/secret-issues.ts), like projections.
import type { ManifestIssue } from '../errors.js'
import type { ManifestContext } from './context.js'
import { exprIssues } from './flow-checks.js'
import { issueAt } from './issues.js'
import { formatPath, type JsonPath, type LoadedDocument, type WorkflowResource } from './model.js'
import { didYouMean } from './suggest.js'

/** Where a trigger's hook is served, relative to the server's URL. */
export function webhookPath(workspace: string, workflow: string, trigger: string): string {
  return `/api/v1/hooks/${encodeURIComponent(workspace)}/${encodeURIComponent(workflow)}/${encodeURIComponent(trigger)}`
}

export function checkTriggers(wf: WorkflowResource, doc: LoadedDocument, ctx: Pick<ManifestContext, 'checkExpression'>, issues: ManifestIssue[]): void {
  const triggers = wf.workflow.triggers ?? []
  const declared = wf.workflow.params ?? []
  const names = declared.map((p) => p.name)
  const first = new Map<string, number>()
  triggers.forEach((t, i) => {
    const seen = first.get(t.name)
    if (seen !== undefined) {
      issues.push(issueAt(doc, 'E_TRIGGER', [...t.path, 'name'], `duplicate trigger name "${t.name}" (also ${formatPath(triggers[seen]!.path)}): each names its own hook URL`))
    } else first.set(t.name, i)
    for (const [param, source] of Object.entries(t.webhook.params)) {
      const path: JsonPath = [...t.path, 'webhook', 'params', param]
      if (!names.includes(param)) {
        const hint = didYouMean(param, names)
        const known = names.length > 0 ? `declared: ${names.join(', ')}` : 'the workflow declares no params (spec.params)'
        issues.push(issueAt(doc, 'E_TRIGGER', path, `trigger "${t.name}" maps unknown param "${param}"${hint ? `; did you mean "${hint}"?` : ''} (${known})`))
        continue
      }
      exprIssues(ctx, doc, path, source, { params: declared, steps: [], context: 'webhook' }, 'value', issues)
    }
  })
  // A required param without a default that no mapping fills: every hook call would fail with 422.
  for (const t of triggers) {
    const missing = declared.filter((p) => p.required && p.default === undefined && !(p.name in t.webhook.params))
    if (missing.length > 0) {
      issues.push(issueAt(doc, 'E_TRIGGER', [...t.path, 'webhook'], `trigger "${t.name}" gives no value to required param${missing.length > 1 ? 's' : ''} ${missing.map((p) => `"${p.name}"`).join(', ')}; map ${missing.length > 1 ? 'them' : 'it'} under webhook.params`))
    }
  }
}
