// Racing writers on one SQLite file: separate connections in this process, and
// separate OS processes running the real store code.
import Database from 'better-sqlite3'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'
import { canonicalHash } from '../../src/store/hash.js'
import { open, tempDbFile } from './helpers.js'

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '../..')

/** Transpiles the store (and errors.ts, and src/api: the log wire codec) into a temp dir that resolves node_modules from the project.
 *  Type-only transpilation: fast, and independent of other folders' in-progress code. */
function buildStoreForChildren(): string {
  const out = fs.mkdtempSync(path.join(root, 'node_modules', '.ctl-store-test-'))
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}')
  const sources = ['src/errors.ts', ...['src/store', 'src/api'].flatMap((dir) => fs.readdirSync(path.join(root, dir), { recursive: true }).map((f) => `${dir}/${f}`))]
  for (const rel of sources.filter((f) => f.endsWith('.ts'))) {
    const js = ts.transpileModule(fs.readFileSync(path.join(root, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText
    const dest = path.join(out, rel.replace(/\.ts$/, '.js'))
    fs.mkdirSync(path.dirname(dest), { recursive: true })
    fs.writeFileSync(dest, js)
  }
  return out
}

interface Report {
  outcomes: { outcome: string; revision: number }[]
  conflicts: number
  errors: string[]
}

async function race(file: string, mode: 'plain' | 'cas' | 'same', workers: number, count: number, storeUrl: string) {
  const startAt = Date.now() + 400
  const worker = path.join(import.meta.dirname, 'apply-worker.mjs')
  const results = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      run(process.execPath, [worker, storeUrl, file, String(i), String(count), mode, String(startAt)], { timeout: 60_000 }),
    ),
  )
  return results.map((r) => JSON.parse(r.stdout) as Report)
}

function revisionsOf(file: string): { revision: number; hash: string }[] {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare('SELECT revision, hash FROM resource_revisions ORDER BY revision').all() as { revision: number; hash: string }[]
  } finally {
    db.close()
  }
}

describe('racing writers, separate processes', () => {
  let buildDir = ''
  let storeUrl = ''
  beforeAll(() => {
    buildDir = buildStoreForChildren()
    storeUrl = pathToFileURL(path.join(buildDir, 'src/store/sqlite.js')).href
    return () => fs.rmSync(buildDir, { recursive: true, force: true })
  })

  const WORKERS = 4
  const COUNT = 50

  it('plain applies: one revision per distinct content, none lost, no errors', async () => {
    const file = tempDbFile()
    const reports = await race(file, 'plain', WORKERS, COUNT, storeUrl)
    expect(reports.flatMap((r) => r.errors)).toEqual([])
    const revs = revisionsOf(file)
    expect(revs.map((r) => r.revision)).toEqual(Array.from({ length: WORKERS * COUNT }, (_, i) => i + 1))
    const expected = []
    for (let w = 0; w < WORKERS; w++) for (let k = 0; k < COUNT; k++) expected.push(canonicalHash({ name: 'race', worker: w, k }))
    expect(revs.map((r) => r.hash).sort()).toEqual(expected.sort())
    // every apply saw a unique revision number
    const seen = reports.flatMap((r) => r.outcomes.map((o) => o.revision))
    expect(new Set(seen).size).toBe(WORKERS * COUNT)
  })

  it('expectedRevision applies: only clean E_CONFLICTs, then every content lands once', async () => {
    const file = tempDbFile()
    const reports = await race(file, 'cas', WORKERS, COUNT, storeUrl)
    expect(reports.flatMap((r) => r.errors)).toEqual([])
    const revs = revisionsOf(file)
    expect(revs).toHaveLength(WORKERS * COUNT)
    expect(new Set(revs.map((r) => r.hash)).size).toBe(WORKERS * COUNT)
  })

  it('the same content from everyone: exactly one created, the rest unchanged', async () => {
    const file = tempDbFile()
    const reports = await race(file, 'same', WORKERS, 3, storeUrl)
    expect(reports.flatMap((r) => r.errors)).toEqual([])
    const outcomes = reports.flatMap((r) => r.outcomes.map((o) => o.outcome))
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'unchanged')).toHaveLength(WORKERS * 3 - 1)
    expect(revisionsOf(file)).toHaveLength(1)
  })
})

describe('several connections in one process (SQLite)', () => {
  it('a lock held too long surfaces as E_UNAVAILABLE, never SQLITE_BUSY; a released lock lets the write through', async () => {
    const file = tempDbFile()
    const store = open(file, { busyTimeoutMs: 20 })
    const holder = new Database(file)
    holder.exec('BEGIN IMMEDIATE')
    try {
      await expect(store.setMeta('k', 'blocked')).rejects.toMatchObject({ name: 'CtlError', code: 'E_UNAVAILABLE' })
      setTimeout(() => holder.exec('COMMIT'), 60)
      await store.setMeta('k', 'through')
      expect(await store.getMeta('k')).toBe('through')
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK')
      holder.close()
    }
  })
})
