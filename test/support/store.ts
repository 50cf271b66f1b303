// One way for tests to open a store: through openStore(url), as the control plane does. SQLite by
// default (DIR/ctl.db); with CTL_TEST_STORE=postgres a fresh database on the run's PostgreSQL
// (test/support/postgres.ts) instead, so any suite can be run on PostgreSQL by hand:
//   CTL_TEST_STORE=postgres CI=true npx vitest run test/engine/...
// Tests about SQLite itself (migrations of old files, file modes, the covering index) open it directly.
// A control plane started on a data dir opens DIR/ctl.db unless given a store URL: pass it
// `storeUrl: await testStoreUrl(dataDir)` so the test and the server share one database.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openStore } from '../../src/store/open.js'
import type { Store, StoreKind } from '../../src/store/index.js'
import { freshDatabase } from './postgres.js'

/** The store kind the tests run on: CTL_TEST_STORE (`sqlite`, the default, or `postgres`). */
export function testStoreKind(): StoreKind {
  const kind = process.env.CTL_TEST_STORE ?? 'sqlite'
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`CTL_TEST_STORE must be sqlite or postgres, not "${kind}"`)
  return kind
}

/** PostgreSQL: one database per folder, so every open of one folder in this process shares it. */
const databases = new Map<string, Promise<string>>()

/** The store URL of `dir` (default: a new temporary folder): `sqlite:DIR/ctl.db`, or its PostgreSQL database. */
export async function testStoreUrl(dir?: string): Promise<string> {
  if (testStoreKind() === 'sqlite') return `sqlite:${path.join(dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-store-')), 'ctl.db')}`
  if (dir === undefined) return freshDatabase()
  const key = path.resolve(dir)
  let url = databases.get(key)
  if (!url) databases.set(key, (url = freshDatabase()))
  return url
}

/** Opens the test store of `dir` (see testStoreUrl); the caller closes it. */
export async function openTestStore(dir?: string): Promise<Store> {
  return openStore(await testStoreUrl(dir))
}
