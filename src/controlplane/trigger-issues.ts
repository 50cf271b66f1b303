// At apply: the secret of each webhook trigger (spec.triggers) must be a type: secret of the workflow's
// workspace, stored or applied in the same request, holding HMAC_KEY (the key that signs the hook's
// requests). A miss is a located E_SECRET issue (422), as for projected secrets (secret-issues.ts).
// Only key names are read; only the workflows the `use` check passed are looked at.
import { formatPath, WEBHOOK_KEY, type WorkflowResource } from '../manifest/model.js'
import type { Store } from '../store/types.js'
import type { ApiIssue } from '../api/types.js'
import { pendingKey } from '../access/use.js'
import { secretKeyOf } from '../secrets/use.js'
import { StoreSecretProvider, secretKeyNames } from '../engine/launch.js'
import { secretLocation } from '../projection/secrets.js'
import type { ApplyItem } from './use-issues.js'

export async function triggerSecretIssues(store: Store, items: readonly ApplyItem[], checked: readonly ApplyItem[]): Promise<ApiIssue[]> {
  const pending = new Map(items.filter((i) => i.key.type === 'secret').map((i) => [pendingKey(i.key), i]))
  const provider = new StoreSecretProvider(store)
  const issues: ApiIssue[] = []
  for (const item of checked) {
    if (item.key.type !== 'workflow' || item.key.workspace === null) continue
    const workspace = item.key.workspace
    for (const t of (item.resource as WorkflowResource).workflow.triggers ?? []) {
      const ref = { id: t.webhook.secret, contextAlias: t.webhook.secret }
      const batch = pending.get(pendingKey(secretKeyOf(ref, workspace)))
      const keys = batch ? secretKeyNames(batch.resource) : await provider.listKeys(ref, workspace)
      let message: string | undefined
      if (keys === undefined) {
        message = `secret "${ref.id}" of trigger "${t.name}" not found in ${secretLocation(ref, workspace)}; apply a type: secret named "${ref.id}" with key ${WEBHOOK_KEY} first (or in the same apply)`
      } else if (!keys.includes(WEBHOOK_KEY)) {
        message = `secret "${ref.id}" of trigger "${t.name}" has no key "${WEBHOOK_KEY}", which signs the hook's requests${keys.length ? `; its keys: ${keys.join(', ')}` : ''}`
      }
      if (message === undefined) continue
      const path = [...t.path, 'webhook', 'secret']
      const { line, column } = item.doc.doc.locate(path)
      issues.push({ file: item.doc.doc.file, line, column, path: formatPath(path), code: 'E_SECRET', message, document: item.index })
    }
  }
  return issues
}
