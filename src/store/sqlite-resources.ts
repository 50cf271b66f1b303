// Resources and their revisions. An apply is one IMMEDIATE transaction:
// read current → compare hash → write revision N+1 with a compare-and-set on
// the current revision, so racing writers never lose or duplicate a revision.
import { CtlError } from '../errors.js'
import { canonicalHash } from './hash.js'
import { newId, nowIso } from './ids.js'
import type { SqliteDb } from './sqlite-db.js'
import {
  RESOURCE_COLUMNS,
  RESOURCE_LIST_COLUMNS,
  toResourceSummary,
  toResource,
  toRevision,
  wsToDb,
  type ResourceListRow,
  type ResourceRow,
  type RevisionRow,
} from './rows.js'
import type {
  ResourceSelectors,
  ApplyResourceInput,
  ApplyResourceResult,
  ListResourcesFilter,
  ResourceKey,
  ResourceRecord,
  ResourceStatus,
  ResourceSummary,
  RevisionRecord,
} from './types.js'

const SELECT_BY_KEY = `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE workspace = ? AND type = ? AND name = ?`

export async function applyResource(db: SqliteDb, input: ApplyResourceInput): Promise<ApplyResourceResult> {
  const work = () => applySync(db, input)
  return input.dryRun ? db.read(work) : db.write(work)
}

function applySync(db: SqliteDb, input: ApplyResourceInput): ApplyResourceResult {
  const ws = wsToDb(input.workspace)
  const hash = canonicalHash(input.hashSource !== undefined ? input.hashSource : input.manifest)
  const manifestText = JSON.stringify(input.manifest ?? null)
  const cur = db.stmt(SELECT_BY_KEY).get(ws, input.type, input.name) as ResourceRow | undefined
  const live = cur !== undefined && cur.status !== 'deleted'
  const currentRevision = live ? cur.revision : 0
  if (input.expectedRevision !== undefined && input.expectedRevision !== currentRevision) {
    throw new CtlError(
      'E_CONFLICT',
      `${input.type} ${input.name} is at revision ${currentRevision}, not ${input.expectedRevision}; get it again and reapply`,
      { expectedRevision: input.expectedRevision, currentRevision },
    )
  }
  if (live && cur.hash === hash && cur.version === input.version) {
    return { outcome: 'unchanged', resource: toResource(cur) }
  }

  const now = nowIso()
  const row: ResourceRow = {
    id: cur?.id ?? newId('res'),
    workspace: ws,
    type: input.type,
    name: input.name,
    version: input.version,
    revision: (cur?.revision ?? 0) + 1,
    hash,
    manifest: manifestText,
    // The creator stays the owner across updates; a revived resource belongs to whoever revived it.
    owner: live ? cur.owner : input.owner,
    status: 'creating',
    status_reason: null,
    created_at: live ? cur.created_at : now,
    updated_at: now,
  }
  const outcome = live ? 'updated' : 'created'
  if (input.dryRun) return { outcome, resource: toResource(row) }

  if (cur === undefined) {
    db.stmt(
      `INSERT INTO resources (${RESOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(row.id, ws, row.type, row.name, row.version, row.revision, hash, manifestText, row.owner, row.status, null, now, now)
  } else {
    const changed = db
      .stmt(
        `UPDATE resources SET version = ?, revision = ?, hash = ?, manifest = ?, owner = ?, status = 'creating',
           status_reason = NULL, created_at = ?, updated_at = ?
         WHERE id = ? AND revision = ?`,
      )
      .run(row.version, row.revision, hash, manifestText, row.owner, row.created_at, now, row.id, cur.revision)
    // Cannot happen under SQLite's write lock; it is the guard a weaker isolation level needs.
    if (changed.changes !== 1) throw new CtlError('E_CONFLICT', `${input.type} ${input.name} changed concurrently; reapply`)
  }
  db.stmt('UPDATE resources SET selectors = ? WHERE id = ?').run(selectorsOf(input.manifest), row.id)
  db.stmt(
    'INSERT INTO resource_revisions (resource_id, revision, version, hash, manifest, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(row.id, row.revision, row.version, hash, manifestText, input.owner, now)
  return { outcome, resource: toResource(row) }
}

export async function getResource(
  db: SqliteDb,
  key: ResourceKey,
  includeDeleted = false,
): Promise<ResourceRecord | undefined> {
  return db.read(() => {
    const row = db.stmt(SELECT_BY_KEY).get(wsToDb(key.workspace), key.type, key.name) as ResourceRow | undefined
    if (!row || (row.status === 'deleted' && !includeDeleted)) return undefined
    return toResource(row)
  })
}

export async function getResourceById(db: SqliteDb, id: string): Promise<ResourceRecord | undefined> {
  return db.read(() => {
    const row = db.stmt(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE id = ?`).get(id) as ResourceRow | undefined
    return row && toResource(row)
  })
}

function listWhere(filter: ListResourcesFilter): { where: string; params: unknown[] } {
  const where: string[] = []
  const params: unknown[] = []
  if (!filter.allWorkspaces && filter.workspace !== undefined) {
    where.push('workspace = ?')
    params.push(wsToDb(filter.workspace))
  }
  if (filter.type !== undefined) {
    where.push('type = ?')
    params.push(filter.type)
  }
  if (filter.name !== undefined) {
    where.push('name = ?')
    params.push(filter.name)
  }
  if (filter.owner !== undefined) {
    where.push('owner = ?')
    params.push(filter.owner)
  }
  if (!filter.includeDeleted) where.push("status <> 'deleted'")
  return { where: where.length ? ` WHERE ${where.join(' AND ')}` : '', params }
}

/** The `selectors` column of a manifest: its labels and tags, NULL when it has neither. */
function selectorsOf(manifest: unknown): string | null {
  const meta = (manifest as { meta?: { labels?: Record<string, string>; tags?: string[] } } | null)?.meta
  const labels = meta?.labels ?? {}
  const tags = meta?.tags ?? []
  return Object.keys(labels).length === 0 && tags.length === 0 ? null : JSON.stringify({ labels, tags })
}

function passes(filter: ListResourcesFilter, selectors: string | null): boolean {
  return filter.select === undefined || filter.select(selectors ? (JSON.parse(selectors) as ResourceSelectors) : {})
}

/** Full records, manifests parsed (plain data): for callers that read them (stacks, computes, dependents). */
export async function listResources(db: SqliteDb, filter: ListResourcesFilter): Promise<ResourceRecord[]> {
  const { where, params } = listWhere(filter)
  // INDEXED BY: rows come in listing order from the index; filters that skip rows skip them before
  // the table (and its manifest overflow pages) is read.
  const sql = `SELECT ${RESOURCE_COLUMNS}, selectors FROM resources INDEXED BY resources_list${where} ORDER BY workspace, type, name`
  return db.read(() => {
    const out: ResourceRecord[] = []
    for (const row of db.stmt(sql).all(...params) as (ResourceRow & { selectors: string | null })[]) {
      if (passes(filter, row.selectors)) out.push(toResource(row))
    }
    return out
  })
}

/** Listings without manifests (`get` tables of thousands): answered by the covering index alone. */
export async function listResourceSummaries(db: SqliteDb, filter: ListResourcesFilter): Promise<ResourceSummary[]> {
  const { where, params } = listWhere(filter)
  // INDEXED BY: the covering index answers every filter combination without table reads; left
  // alone, the planner prefers (type, name) and then reads each row's overflow pages. A selector
  // reads one more (small) column.
  const selecting = filter.select !== undefined
  const sql = `SELECT ${RESOURCE_LIST_COLUMNS}${selecting ? ', selectors' : ''} FROM resources INDEXED BY resources_list${where}
    ORDER BY workspace, type, name`
  return db.read(() => {
    const rows = db.stmt(sql).raw(true).all(...params) as unknown[][]
    if (!selecting) return (rows as ResourceListRow[]).map(toResourceSummary)
    const out: ResourceSummary[] = []
    for (const row of rows) {
      const selectors = row.pop() as string | null
      if (passes(filter, selectors)) out.push(toResourceSummary(row as ResourceListRow))
    }
    return out
  })
}

export async function listRevisions(db: SqliteDb, resourceId: string): Promise<RevisionRecord[]> {
  return db.read(() =>
    (
      db.stmt('SELECT * FROM resource_revisions WHERE resource_id = ? ORDER BY revision').all(resourceId) as RevisionRow[]
    ).map(toRevision),
  )
}

export async function getRevision(db: SqliteDb, resourceId: string, revision: number): Promise<RevisionRecord | undefined> {
  return db.read(() => {
    const row = db
      .stmt('SELECT * FROM resource_revisions WHERE resource_id = ? AND revision = ?')
      .get(resourceId, revision) as RevisionRow | undefined
    return row && toRevision(row)
  })
}

export async function setResourceStatus(
  db: SqliteDb,
  id: string,
  status: ResourceStatus,
  reason?: string,
  revision?: number,
): Promise<void> {
  await db.write(() => {
    const r = revision === undefined
      ? db.stmt('UPDATE resources SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?').run(status, reason ?? null, nowIso(), id)
      : db.stmt("UPDATE resources SET status = ?, status_reason = ?, updated_at = ? WHERE id = ? AND revision = ? AND status <> 'deleted'")
        .run(status, reason ?? null, nowIso(), id, revision)
    if (r.changes === 0 && !db.stmt('SELECT 1 FROM resources WHERE id = ?').get(id)) throw new CtlError('E_NOT_FOUND', `resource ${id} not found`)
  })
}

export async function deleteResource(db: SqliteDb, id: string): Promise<void> {
  await db.write(() => {
    const r = db
      .stmt("UPDATE resources SET status = 'deleted', status_reason = NULL, updated_at = ? WHERE id = ?")
      .run(nowIso(), id)
    if (r.changes === 0) throw new CtlError('E_NOT_FOUND', `resource ${id} not found`)
    db.stmt('DELETE FROM schedules WHERE resource_id = ?').run(id)
  })
}
