// Fixtures for the SQLite-only suites (sqlite-*.test.ts): a fresh SQLite file per test in a temp dir,
// opened directly (they look at the file itself). Everything else goes through the conformance suite.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'
import { openSqliteStore, type SqliteOptions } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'

const dirs: string[] = []
const stores: Store[] = []

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-store-'))
  dirs.push(dir)
  return dir
}

export function tempDbFile(): string {
  return path.join(tempDir(), 'ctl.db')
}

/** Opens a store that is closed after the test. */
export function open(file: string, options?: SqliteOptions): Store {
  const s = openSqliteStore(file, options)
  stores.push(s)
  return s
}

export function freshStore(): { store: Store; file: string } {
  const file = tempDbFile()
  return { store: open(file), file }
}

export { seedRun, workflow } from './conformance/harness.js'
