import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { CtlError } from '../../src/errors.js'
import { MIGRATIONS, LATEST_SCHEMA_VERSION } from '../../src/store/migrations/index.js'
import { SqliteDb } from '../../src/store/sqlite-db.js'
import { open, tempDbFile } from './helpers.js'

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
