// SQLite only: migrations of older SQLite files (the schema each version adds, data carried over).
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { MIGRATIONS, LATEST_SCHEMA_VERSION } from '../../src/store/migrations/index.js'
import { SqliteDb } from '../../src/store/sqlite-db.js'
import { open, tempDbFile } from './helpers.js'
import { createHash } from 'node:crypto'
import { tricky } from './conformance/logs.js'
import type { Store } from '../../src/store/types.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const STREAMS = ['stdout', 'stderr', 'system'] as const

function versions(file: string): { version: number; name: string }[] {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[]
  } finally {
    db.close()
  }
}

describe('migrations', () => {
  it('creates a fresh database at the latest version, in WAL mode with foreign keys', async () => {
    const file = tempDbFile()
    const store = open(file)
    expect(store.kind).toBe('sqlite')
    expect(versions(file)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })))
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)!.version)
    const db = new Database(file)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    // foreign keys are on in the store's connection: a run for a missing resource is refused
    await expect(store.createRun({ resourceId: 'nope', revision: 1, trigger: 'manual', steps: [] })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    })
  })

  it('reopens without reapplying and keeps the data', async () => {
    const file = tempDbFile()
    const first = open(file)
    await first.setMeta('k', 'v')
    await first.close()
    const second = open(file)
    expect(await second.getMeta('k')).toBe('v')
    expect(versions(file)).toHaveLength(MIGRATIONS.length)
  })

  it('applies only the new migrations, in order, when the code gains one', () => {
    const file = tempDbFile()
    new SqliteDb(file).close()
    const next = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 2, name: 'third', sqlite: 'ALTER TABLE extra ADD COLUMN b TEXT;' },
      { version: LATEST_SCHEMA_VERSION + 1, name: 'second', sqlite: 'CREATE TABLE extra (a TEXT);' },
    ]
    const db = new SqliteDb(file, {}, next)
    const cols = db.raw.prepare('PRAGMA table_info(extra)').all() as { name: string }[]
    expect(cols.map((c) => c.name)).toEqual(['a', 'b'])
    db.close()
    expect(versions(file).map((v) => v.name).slice(-2)).toEqual(['second', 'third'])
    // and again: nothing left to do (re-running the ALTER would fail)
    new SqliteDb(file, {}, next).close()
  })

  it('rolls back a failing migration as a whole', () => {
    const file = tempDbFile()
    new SqliteDb(file).close()
    const broken = [...MIGRATIONS, { version: LATEST_SCHEMA_VERSION + 1, name: 'bad', sqlite: 'CREATE TABLE ok1 (a TEXT); SELEC nonsense;' }]
    expect(() => new SqliteDb(file, {}, broken)).toThrow(CtlError)
    const db = new Database(file, { readonly: true })
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok1'").get()).toBeUndefined()
    db.close()
    expect(versions(file)).toHaveLength(MIGRATIONS.length)
  })

  it('refuses a database newer than the code with a clear error', () => {
    const file = tempDbFile()
    new SqliteDb(file).close()
    const db = new Database(file)
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '2099-01-01T00:00:00.000Z')").run(
      LATEST_SCHEMA_VERSION + 5,
    )
    db.close()
    let caught: unknown
    try {
      open(file)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(CtlError)
    expect((caught as CtlError).code).toBe('E_UNAVAILABLE')
    expect((caught as CtlError).message).toContain(`schema is version ${LATEST_SCHEMA_VERSION + 5}`)
    expect((caught as CtlError).message).toContain('upgrade ctl')
  })

  it('reports an unopenable path as E_UNAVAILABLE', () => {
    expect(() => open('/nonexistent-dir/for/sure/ctl.db')).toThrow(expect.objectContaining({ code: 'E_UNAVAILABLE' }))
  })
})

describe('migration 5 (step_kept_from)', () => {
  it('adds the kept_from column to a database made by the migrations before it, existing step runs keeping none', () => {
    const file = tempDbFile()
    new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 5)).close()
    const before = new Database(file)
    expect((before.prepare('PRAGMA table_info(step_runs)').all() as { name: string }[]).map((c) => c.name)).not.toContain('kept_from')
    before.close()
    const db = new SqliteDb(file)
    const cols = db.raw.prepare('PRAGMA table_info(step_runs)').all() as { name: string; type: string }[]
    expect(cols.find((c) => c.name === 'kept_from')).toMatchObject({ type: 'TEXT' })
    db.close()
    expect(versions(file)).toContainEqual({ version: 5, name: 'step_kept_from' })
  })
})

describe('migration 6 (run_params)', () => {
  it('adds the params column to runs; runs made before it have none', () => {
    const file = tempDbFile()
    new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 6)).close()
    const db = new SqliteDb(file)
    const cols = db.raw.prepare('PRAGMA table_info(runs)').all() as { name: string; type: string }[]
    expect(cols.find((c) => c.name === 'params')).toMatchObject({ type: 'TEXT' })
    db.close()
    expect(versions(file)).toContainEqual({ version: 6, name: 'run_params' })
  })
})

describe('migration 10 (resource_selectors)', () => {
  it('adds the selectors column and fills it from the labels and tags of existing manifests', () => {
    const file = tempDbFile()
    new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 10)).close()
    const before = new Database(file)
    const insert = before.prepare(`INSERT INTO resources (id, workspace, type, name, version, revision, hash, manifest, owner, status, created_at, updated_at)
      VALUES (?, 'public', 'volume', ?, 'v1beta', 1, 'h', ?, 'admin', 'active', 'now', 'now')`)
    insert.run('r1', 'labelled', JSON.stringify({ meta: { name: 'labelled', labels: { team: 'core' }, tags: ['batch'] } }))
    insert.run('r2', 'plain', JSON.stringify({ meta: { name: 'plain', tags: [] } }))
    insert.run('r3', 'odd', 'not json')
    before.close()
    const db = new SqliteDb(file)
    const rows = db.raw.prepare('SELECT name, selectors FROM resources ORDER BY name').all() as { name: string; selectors: string | null }[]
    db.close()
    expect(rows.map((r) => [r.name, r.selectors === null ? null : JSON.parse(r.selectors)])).toEqual([
      ['labelled', { labels: { team: 'core' }, tags: ['batch'] }],
      ['odd', null],
      ['plain', null],
    ])
  })
})

describe('migration 7 (step_outputs)', () => {
  it('adds the outputs column to a database made by the migrations before it', () => {
    const file = tempDbFile()
    new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 7)).close()
    const db = new SqliteDb(file)
    const cols = db.raw.prepare('PRAGMA table_info(step_runs)').all() as { name: string; type: string }[]
    expect(cols.find((c) => c.name === 'outputs')).toMatchObject({ type: 'TEXT' })
    db.close()
    const raw = new Database(file, { readonly: true })
    expect(raw.prepare('SELECT name FROM schema_migrations WHERE version = 7').get()).toEqual({ name: 'step_outputs' })
    raw.close()
  })
})

describe('migration 0004', () => {
  it('turns the admin key of an older database into user admin, bound tenant-wide to tenant-admin', async () => {
    const file = tempDbFile()
    const old = new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version < 4))
    old.raw.prepare("INSERT INTO meta (key, value) VALUES ('admin_key_sha256', ?)").run(sha('old-token'))
    old.close()
    const store = open(file)
    expect(await store.getUser('admin')).toMatchObject({ id: 'admin', name: 'Tenant admin', type: 'person' })
    expect(await store.listRoleBindings({ userId: 'admin' })).toMatchObject([{ role: 'tenant-admin', workspace: null }])
    expect((await store.findApiKeyByHash(sha('old-token')))?.user.id).toBe('admin')
    expect(await store.getMeta('admin_key_sha256')).toBeUndefined()
  })
})

describe('migration 0002: log lines become chunks', () => {
  it('carries existing lines over unchanged and appends continue after them', async () => {
    const file = tempDbFile()
    // A database at schema version 1 with lines in the old one-row-per-line table.
    const v1 = new SqliteDb(file, {}, MIGRATIONS.filter((m) => m.version === 1))
    const raw = v1.raw
    const t = '2024-05-01T00:00:00.000Z'
    raw.prepare(`INSERT INTO resources (id, workspace, type, name, version, revision, hash, manifest, owner, status, created_at, updated_at)
      VALUES ('res-1', 'public', 'workflow', 'wf', 'v1', 1, 'h', '{}', 'alice', 'active', ?, ?)`).run(t, t)
    raw.prepare(`INSERT INTO resource_revisions (resource_id, revision, version, hash, manifest, created_by, created_at)
      VALUES ('res-1', 1, 'v1', 'h', '{}', 'alice', ?)`).run(t)
    raw.prepare(`INSERT INTO runs (id, resource_id, revision, run_trigger, state, created_at) VALUES ('r-1', 'res-1', 1, 'apply', 'succeeded', ?)`).run(t)
    const lines = tricky(1, 2345)
    const step = raw.prepare(`INSERT INTO step_runs (id, run_id, step, attempt, state, log_seq, created_at) VALUES (?, 'r-1', ?, 1, 'succeeded', ?, ?)`)
    step.run('s-a', 'a', lines.length, t)
    step.run('s-b', 'b', 1, t)
    const insert = raw.prepare('INSERT INTO log_lines (step_run_id, seq, time, stream, text) VALUES (?, ?, ?, ?, ?)')
    raw.transaction(() => {
      lines.forEach((l, i) => insert.run('s-a', i + 1, l.time, STREAMS.indexOf(l.stream), l.text))
      insert.run('s-b', 1, lines[0]!.time, 1, 'only one')
    })()
    v1.close()
    const run = { id: 'r-1' }
    const steps = [{ id: 's-a' }, { id: 's-b' }]

    const store: Store = open(file)
    const got = await store.readLogs({ runId: run.id, step: 'a' })
    expect(got.map(({ time, stream, text }) => ({ time, stream, text }))).toEqual(lines)
    expect(got.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1))
    expect((await store.readLogs({ runId: run.id, step: 'a', tail: 2 })).map((l) => l.seq)).toEqual([2344, 2345])
    expect(await store.readLogs({ runId: run.id, step: 'b' })).toMatchObject([{ seq: 1, stream: 'stderr', text: 'only one' }])
    await store.appendLogs(steps[0]!.id, tricky(1, 2), 99)
    expect((await store.readLogs({ runId: run.id, step: 'a', afterSeq: 2344 })).map((l) => l.seq)).toEqual([2345, 2346, 2347])
    const check = new Database(file, { readonly: true })
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'log_lines'").get()).toBeUndefined()
    check.close()
  })
})
