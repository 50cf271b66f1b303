// Resources and their revisions. An apply is one IMMEDIATE transaction:
// read current → compare hash → write revision N+1 with a compare-and-set on
// the current revision, so racing writers never lose or duplicate a revision.
import { CtlError } from '../errors.js'
import { canonicalHash } from './hash.js'
import { newId, nowIso } from './ids.js'
import { mapSqliteError, type SqliteDb } from './sqlite-db.js'
import {
  RESOURCE_COLUMNS,
  RESOURCE_LIST_COLUMNS,
  toListedResource,
  toResourceSummary,
  toResource,
  toRevision,
  wsToDb,
  type ResourceListRow,
  type ResourceRow,
  type RevisionRow,
} from './sqlite-rows.js'
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

function listQuery(filter: ListResourcesFilter): { sql: string; params: unknown[] } {
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
  // Listings never read the manifest column (10,000 manifests are megabytes); a record's
  // manifest is fetched from its revision if and when someone reads it.
  // INDEXED BY: the covering index answers every filter combination without table reads;
  // left alone, the planner prefers (type, name) and then reads each row's overflow pages.
  // A selector reads one more (small) column; without one the covering index answers alone.
  const selecting = filter.select !== undefined
  const sql = `SELECT ${RESOURCE_LIST_COLUMNS}${selecting ? ', selectors' : ''} FROM resources INDEXED BY resources_list${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY workspace, type, name`
  return { sql, params }
}

/** The `selectors` column of a manifest: its labels and tags, NULL when it has neither. */
function selectorsOf(manifest: unknown): string | null {
  const meta = (manifest as { meta?: { labels?: Record<string, string>; tags?: string[] } } | null)?.meta
  const labels = meta?.labels ?? {}
  const tags = meta?.tags ?? []
  return Object.keys(labels).length === 0 && tags.length === 0 ? null : JSON.stringify({ labels, tags })
}

/** The rows of a listing that pass its label selector and tags (the last column is `selectors`), without that column. */
function selectRows(rows: unknown[][], filter: ListResourcesFilter): ResourceListRow[] {
  const select = filter.select
  if (select === undefined) return rows as ResourceListRow[]
  const out: ResourceListRow[] = []
  for (const row of rows) {
    const text = row.pop() as string | null
    if (select(text ? (JSON.parse(text) as ResourceSelectors) : {})) out.push(row as ResourceListRow)
  }
  return out
}

export async function listResources(db: SqliteDb, filter: ListResourcesFilter): Promise<ResourceRecord[]> {
  const { sql, params } = listQuery(filter)
  return db.read(() => {
    const rows = selectRows(db.stmt(sql).raw(true).all(...params) as unknown[][], filter)
    const pager = new ManifestPager(db, rows)
    return rows.map((row, i) => toListedResource(row, i, (index) => pager.manifest(index)))
  })
}

export async function listResourceSummaries(db: SqliteDb, filter: ListResourcesFilter): Promise<ResourceSummary[]> {
  const { sql, params } = listQuery(filter)
  return db.read(() => selectRows(db.stmt(sql).raw(true).all(...params) as unknown[][], filter).map(toResourceSummary))
}

/** A listing's manifests, fetched on demand in pages that adapt to how they are read: a
 *  caller reading every manifest in order (dependents, stacks) gets them 512 at a time, one
 *  reading a few here and there (runtime summaries of the scheduled workflows) one by one,
 *  never megabytes of texts nobody parses. Each record gets its own revision's manifest, so
 *  it matches the rest of the record even after a later apply. */
class ManifestPager {
  private readonly texts: (string | undefined)[]
  private readonly read: Uint8Array
  private size = 16
  private lastPage: number[] = []

  constructor(
    private readonly db: SqliteDb,
    private readonly rows: readonly ResourceListRow[],
  ) {
    this.texts = new Array<string | undefined>(rows.length)
    this.read = new Uint8Array(rows.length)
  }

  manifest(index: number): unknown {
    if (this.texts[index] === undefined) this.loadPage(index)
    const text = this.texts[index]
    this.texts[index] = undefined
    this.read[index] = 1
    const row = this.rows[index]!
    if (text === undefined) throw new CtlError('E_NOT_FOUND', `revision ${row[5]} of resource ${row[0]} not found`)
    return JSON.parse(text) as unknown
  }

  private loadPage(from: number): void {
    if (!this.db.raw.open) throw new CtlError('E_UNAVAILABLE', 'a listed manifest was read after the store was closed')
    if (this.lastPage.length > 0) {
      const allUsed = this.lastPage.every((i) => this.read[i] === 1)
      this.size = allUsed ? Math.min(this.size * 2, 512) : Math.max(1, this.size >> 1)
    }
    const slots = new Map<string, number>()
    const keys: [string, number][] = []
    for (let i = from; i < this.rows.length && keys.length < this.size; i++) {
      // Loaded and waiting, or read already (a record reads its manifest once): skip.
      if (i !== from && (this.texts[i] !== undefined || this.read[i] === 1)) continue
      const row = this.rows[i]!
      slots.set(row[0], i)
      keys.push([row[0], row[5]])
    }
    this.lastPage = [...slots.values()]
    let found: [string, string][]
    try {
      // Synchronous (a property getter); a WAL read does not wait on writers.
      found = keys.length === 1
        ? (this.db.stmt(ONE_SQL).raw(true).all(keys[0]![0], keys[0]![1]) as [string, string][])
        : (this.db.stmt(PAGE_SQL).raw(true).all(JSON.stringify(keys)) as [string, string][])
    } catch (err) {
      throw mapSqliteError(err)
    }
    for (const [id, text] of found) this.texts[slots.get(id)!] = text
  }
}

const ONE_SQL = 'SELECT resource_id, manifest FROM resource_revisions WHERE resource_id = ? AND revision = ?'
const PAGE_SQL = `SELECT rv.resource_id, rv.manifest FROM json_each(?) j
  JOIN resource_revisions rv ON rv.resource_id = j.value ->> 0 AND rv.revision = j.value ->> 1`

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
): Promise<void> {
  await db.write(() => {
    const r = db
      .stmt('UPDATE resources SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?')
      .run(status, reason ?? null, nowIso(), id)
    if (r.changes === 0) throw new CtlError('E_NOT_FOUND', `resource ${id} not found`)
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
