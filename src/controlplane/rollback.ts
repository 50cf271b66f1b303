// `ctl resource rollback --to-revision N`: the stored manifest of revision N becomes a new revision, as an
// apply of it would (needs `update` on the resource; unchanged when it equals the current one), and the
// engine is told as after an apply (an unscheduled workflow runs again, a schedule is re-armed).
import { CtlError, ManifestError } from '../errors.js'
import type { LoadedDocument, WorkflowResource } from '../manifest/model.js'
import { useIssues, type ApplyItem } from './use-issues.js'
import { secretIssues } from './secret-issues.js'
import { triggerSecretIssues } from './trigger-issues.js'
import { dependencyIssues } from './apply.js'
import type { EngineApi } from '../engine/api.js'
import type { ResourceKey, ResourceRecord, RevisionRecord, Store } from '../store/types.js'
import type { Principal, RollbackResponse } from '../api/types.js'
import { requireOn } from '../access/targets.js'
import { describeKey, loadResource, revisionOf } from '../http/keys.js'
import { isSecretType } from '../secrets/crypto.js'

/**
 * The checks of an apply that depend on the caller or on what exists now, on the old revision: the caller
 * and the owner may `use` what it projects and mounts (a `manage` grantee must not borrow the owner's secret
 * by rolling back), its secrets and trigger secrets exist with their keys, its dependencies exist. The old
 * manifest passed lint when it was applied; issues point at the revision, not at a file.
 */
async function recheck(store: Store, principal: Principal, key: ResourceKey, record: ResourceRecord, rev: RevisionRecord): Promise<void> {
  const resource = rev.manifest as WorkflowResource
  const doc: LoadedDocument = { file: `${record.type}/${record.workspace}/${record.name}@${rev.revision}`, index: 0, value: {}, locate: () => ({ line: 0, column: 0 }) }
  const item: ApplyItem = { index: 0, key, resource, doc: { resource, doc } }
  const { issues: refused, checked } = await useIssues(store, principal, [item], () => record.owner)
  if (refused.length > 0) throw new ManifestError(refused)
  const missing = [...(await secretIssues(store, [item], checked)), ...(await triggerSecretIssues(store, [item], checked)), ...(await dependencyIssues(store, [item], key.workspace!))]
  if (missing.length > 0) throw new ManifestError(missing)
}

export async function rollback(store: Store, engine: EngineApi, principal: Principal, key: ResourceKey, toRevision: number, dryRun: boolean): Promise<RollbackResponse> {
  const found = await store.getResource(key)
  // `apply` on an existing resource is `update`; decided before "not found" so nobody probes for names.
  await requireOn(store, principal, 'apply', key, found)
  const record = found ?? (await loadResource(store, key))
  // A secret's stored revisions are sealed and hashed over their clear values: a rollback would need to open them.
  if (isSecretType(record.type)) throw new CtlError('E_USAGE', `${describeKey(key)}: secrets cannot be rolled back; apply the values again`)
  const rev = await revisionOf(store, record, toRevision)
  if (record.type === 'workflow' && record.workspace !== null) await recheck(store, principal, key, record, rev)
  const { outcome, resource } = await store.applyResource({
    ...key,
    version: rev.version,
    manifest: rev.manifest,
    owner: principal.id,
    expectedRevision: record.revision,
    dryRun,
  })
  const answer: RollbackResponse = {
    name: resource.name, version: resource.version, type: resource.type, workspace: resource.workspace,
    outcome, revision: resource.revision, toRevision,
  }
  if (dryRun) return { ...answer, dryRun: true }
  const started = await engine.resourceApplied(resource, outcome)
  if (started) answer.runId = started.id
  return answer
}
