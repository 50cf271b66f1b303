// PostgreSQL resources and their revisions. An apply is one transaction that first takes a
// transaction-scoped advisory lock on the resource's key (two replicas creating the same new key
// serialize there instead of one failing on the unique constraint), then locks the row FOR UPDATE
// (a concurrent delete or status change waits), then writes revision N+1 with a compare-and-set on
// the current revision: the same outcomes, in the same cases, as SQLite's single-writer apply.
import { CtlError } from '../../errors.js'
import { canonicalHash } from '../hash.js'
import { newId, nowIso } from '../ids.js'
import type {
  ApplyResourceInput,
  ApplyResourceResult,
  ListResourcesFilter,
  ResourceKey,
  ResourceRecord,
  ResourceSelectors,
  ResourceStatus,
  ResourceSummary,
  RevisionRecord,
} from '../types.js'
import type { PgDb, PgQuery } from './db.js'
import {
  pgText,
  RESOURCE_COLUMNS,
  RESOURCE_SUMMARY_COLUMNS,
  toResource,
  toResourceSummary,
  toRevision,
  wsToDb,
  type ResourceRow,
  type ResourceSummaryRow,
  type RevisionRow,
} from './rows.js'

const SELECT_BY_KEY = `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE workspace = $1 AND type = $2 AND name = $3`
/** First key of the two-key advisory locks applies take ("ctlr"); the second is the key's hash. */
const APPLY_LOCK_SPACE = 0x63746c72

export async function applyResource(db: PgDb, input: ApplyResourceInput): Promise<ApplyResourceResult> {
  if (input.dryRun) return applyIn(db, input)
  return db.tx((q) => applyIn(q, input))
}

async function applyIn(q: PgQuery, input: ApplyResourceInput): Promise<ApplyResourceResult> {
  const ws = wsToDb(input.workspace)
  const hash = canonicalHash(input.hashSource !== undefined ? input.hashSource : input.manifest)
  const manifestText = JSON.stringify(input.manifest ?? null)
  const key = [ws, input.type, input.name]
  if (!input.dryRun) {
    await q.exec('SELECT pg_advisory_xact_lock($1, hashtext($2))', [APPLY_LOCK_SPACE, JSON.stringify(key)])
  }
  const cur = await q.one<ResourceRow>(input.dryRun ? SELECT_BY_KEY : `${SELECT_BY_KEY} FOR UPDATE`, key)
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

  const selectors = selectorsOf(input.manifest)
  if (cur === undefined) {
    await q.exec(
      `INSERT INTO resources (${RESOURCE_COLUMNS}, selectors) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [row.id, ws, row.type, row.name, row.version, row.revision, hash, row.owner, row.status, null, now, now, manifestText, selectors],
    )
  } else {
    const changed = await q.exec(
      `UPDATE resources SET version = $1, revision = $2, hash = $3, manifest = $4, owner = $5, status = 'creating',
         status_reason = NULL, created_at = $6, updated_at = $7, selectors = $8
       WHERE id = $9 AND revision = $10`,
      [row.version, row.revision, hash, manifestText, row.owner, row.created_at, now, selectors, row.id, cur.revision],
    )
    // The row is locked, so this holds; it is the guard should the locking ever change.
    if (changed !== 1) throw new CtlError('E_CONFLICT', `${input.type} ${input.name} changed concurrently; reapply`)
  }
  await q.exec(
    'INSERT INTO resource_revisions (resource_id, revision, version, hash, manifest, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [row.id, row.revision, row.version, hash, manifestText, input.owner, now],
  )
  return { outcome, resource: toResource(row) }
}

/** The `selectors` column of a manifest: its labels and tags, NULL when it has neither (as in SQLite). */
function selectorsOf(manifest: unknown): string | null {
  const meta = (manifest as { meta?: { labels?: Record<string, string>; tags?: string[] } } | null)?.meta
  const labels = meta?.labels ?? {}
  const tags = meta?.tags ?? []
  return Object.keys(labels).length === 0 && tags.length === 0 ? null : JSON.stringify({ labels, tags })
}

export async function getResource(db: PgDb, key: ResourceKey, includeDeleted = false): Promise<ResourceRecord | undefined> {
  const row = await db.one<ResourceRow>(SELECT_BY_KEY, [wsToDb(key.workspace), key.type, key.name])
  if (!row || (row.status === 'deleted' && !includeDeleted)) return undefined
  return toResource(row)
}

export async function getResourceById(db: PgDb, id: string): Promise<ResourceRecord | undefined> {
  const row = await db.one<ResourceRow>(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE id = $1`, [id])
  return row && toResource(row)
}

/** SELECT `columns` (plus `selectors` when the filter selects) of the resources passing `filter`, in listing order. */
function listQuery(columns: string, filter: ListResourcesFilter): { sql: string; params: unknown[] } {
  const where: string[] = []
  const params: unknown[] = []
  const add = (clause: string, value: unknown) => {
    params.push(value)
    where.push(`${clause} $${params.length}`)
  }
  if (!filter.allWorkspaces && filter.workspace !== undefined) add('workspace =', wsToDb(filter.workspace))
  if (filter.type !== undefined) add('type =', filter.type)
  if (filter.name !== undefined) add('name =', filter.name)
  if (filter.owner !== undefined) add('owner =', filter.owner)
  if (!filter.includeDeleted) where.push("status <> 'deleted'")
  const sql = `SELECT ${columns}${filter.select !== undefined ? ', selectors' : ''} FROM resources${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY workspace, type, name`
  return { sql, params }
}

/** The rows that pass the filter's label selector and tags (read from the `selectors` column). */
function selectRows<R extends { selectors?: string | null }>(rows: R[], filter: ListResourcesFilter): R[] {
  const select = filter.select
  if (select === undefined) return rows
  return rows.filter((row) => select(row.selectors ? (JSON.parse(row.selectors) as ResourceSelectors) : {}))
}

/**
 * Rows of a listing. A whole workspace (or all of them) is read in index order: without it the planner
 * reads the table and sorts 10,000 rows, which costs several times the scan, because it prices the
 * index by the visibility map that only a vacuum fills. A listing by name or owner is small: left alone.
 */
async function listRows<R>(db: PgDb, columns: string, filter: ListResourcesFilter): Promise<R[]> {
  const { sql, params } = listQuery(columns, filter)
  if (filter.name !== undefined || filter.owner !== undefined) return db.rows<R>(sql, params)
  return db.tx(async (q) => {
    await q.exec('SET LOCAL enable_sort = off')
    return q.rows<R>(sql, params)
  })
}

export async function listResources(db: PgDb, filter: ListResourcesFilter): Promise<ResourceRecord[]> {
  return selectRows(await listRows<ResourceRow & { selectors?: string | null }>(db, RESOURCE_COLUMNS, filter), filter).map(toResource)
}

export async function listResourceSummaries(db: PgDb, filter: ListResourcesFilter): Promise<ResourceSummary[]> {
  return selectRows(await listRows<ResourceSummaryRow & { selectors?: string | null }>(db, RESOURCE_SUMMARY_COLUMNS, filter), filter).map(toResourceSummary)
}

export async function listRevisions(db: PgDb, resourceId: string): Promise<RevisionRecord[]> {
  const rows = await db.rows<RevisionRow>('SELECT * FROM resource_revisions WHERE resource_id = $1 ORDER BY revision', [resourceId])
  return rows.map(toRevision)
}

export async function getRevision(db: PgDb, resourceId: string, revision: number): Promise<RevisionRecord | undefined> {
  const row = await db.one<RevisionRow>('SELECT * FROM resource_revisions WHERE resource_id = $1 AND revision = $2', [resourceId, revision])
  return row && toRevision(row)
}

export async function setResourceStatus(db: PgDb, id: string, status: ResourceStatus, reason?: string, revision?: number): Promise<void> {
  const params = [status, pgText(reason) ?? null, nowIso(), id]
  const n = revision === undefined
    ? await db.exec('UPDATE resources SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4', params)
    : await db.exec("UPDATE resources SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND revision = $5 AND status <> 'deleted'", [...params, revision])
  if (n === 0 && !(await db.one('SELECT 1 FROM resources WHERE id = $1', [id]))) throw new CtlError('E_NOT_FOUND', `resource ${id} not found`)
}

export async function deleteResource(db: PgDb, id: string): Promise<void> {
  await db.tx(async (q) => {
    const n = await q.exec("UPDATE resources SET status = 'deleted', status_reason = NULL, updated_at = $1 WHERE id = $2", [nowIso(), id])
    if (n === 0) throw new CtlError('E_NOT_FOUND', `resource ${id} not found`)
    await q.exec('DELETE FROM schedules WHERE resource_id = $1', [id])
  })
}
