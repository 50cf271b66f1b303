// Turning URL parts into a store key, with the instance-level rule in one place.
import { CtlError } from '../errors.js'
import { INSTANCE_LEVEL_TYPES, RESOURCE_TYPES, type ResourceType } from '../manifest/model.js'
import type { IdentityStore, ResourceKey, ResourceRecord, ResourceStore, ResourceSummary, RevisionRecord } from '../store/types.js'
import type { ResourceRow, RuntimeSummary } from '../api/types.js'

export const DEFAULT_WORKSPACE = 'public'

export function isInstanceLevel(type: string): boolean {
  return (INSTANCE_LEVEL_TYPES as readonly string[]).includes(type)
}

export function checkType(type: string): ResourceType {
  if (!(RESOURCE_TYPES as readonly string[]).includes(type)) {
    throw new CtlError('E_USAGE', `unknown resource type "${type}"; known: ${RESOURCE_TYPES.join(', ')}`)
  }
  return type as ResourceType
}

/** `ws` null: the /instance/ routes. Instance-level types always get workspace null. */
export function resourceKey(ws: string | null, type: string, name: string): ResourceKey {
  checkType(type)
  if (isInstanceLevel(type)) return { workspace: null, type, name }
  if (ws === null) {
    throw new CtlError('E_USAGE', `${type} is a workspace-level type; use /api/v1/workspaces/WORKSPACE/resources/${type}/${name}`)
  }
  return { workspace: ws, type, name }
}

export function describeKey(key: ResourceKey): string {
  return key.workspace === null ? `${key.type} ${key.name} (instance level)` : `${key.type} ${key.name} in workspace ${key.workspace}`
}

export async function loadResource(store: ResourceStore, key: ResourceKey): Promise<ResourceRecord> {
  const record = await store.getResource(key)
  if (!record) throw new CtlError('E_NOT_FOUND', `${describeKey(key)} not found`)
  return record
}

/**
 * The record reads (get, revisions, runs) answer from: a deleted resource too, its revisions,
 * runs and logs being kept — unless its workspace is gone with it.
 */
export async function readableResource(store: ResourceStore & IdentityStore, key: ResourceKey): Promise<ResourceRecord | undefined> {
  const record = await store.getResource(key, { includeDeleted: true })
  if (record?.status !== 'deleted' || key.workspace === null) return record
  return (await store.getWorkspace(key.workspace)) ? record : undefined
}

export function toRow(r: ResourceSummary, runtime: RuntimeSummary): ResourceRow {
  const row: ResourceRow = {
    id: r.id, workspace: r.workspace, type: r.type, name: r.name, version: r.version, revision: r.revision, owner: r.owner,
    status: r.status, runtime, createdAt: r.createdAt, updatedAt: r.updatedAt,
  }
  if (r.statusReason !== undefined) row.statusReason = r.statusReason
  return row
}

/** Secret values never leave the server: `data` and `files` values become `***`. */
/** What a secret value (of a secret resource, of a secret run param) reads as in an answer. */
export const SECRET_MASK = '***'

export function maskSecrets(type: string, manifest: unknown): unknown {
  if (type !== 'secret' && type !== 'instance-secret') return manifest
  if (!manifest || typeof manifest !== 'object') return manifest
  const out: Record<string, unknown> = { ...(manifest as Record<string, unknown>) }
  const mask = (v: unknown): unknown =>
    v && typeof v === 'object' ? Object.fromEntries(Object.keys(v as object).map((k) => [k, SECRET_MASK])) : v
  // The model keeps both types under `secret`; the raw shape of instance-secrets uses its own key.
  for (const bodyKey of ['secret', 'instance-secret']) {
    const body = out[bodyKey]
    if (!body || typeof body !== 'object') continue
    const b = body as Record<string, unknown>
    out[bodyKey] = { ...b, data: mask(b.data), files: mask(b.files) }
  }
  return out
}

/** Revision `n` of the resource, or E_NOT_FOUND naming the revisions there are. */
export async function revisionOf(store: ResourceStore, record: ResourceRecord, n: number): Promise<RevisionRecord> {
  const rev = await store.getRevision(record.id, n)
  if (!rev) throw new CtlError('E_NOT_FOUND', `revision ${n} of ${record.type} ${record.name} not found; it has revisions 1 to ${record.revision} (list them with: ctl resource get -t ${record.type} -n ${record.name} --revisions)`)
  return rev
}
