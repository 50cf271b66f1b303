// The PostgreSQL store's core areas (resources, runs, steps, schedules, meta, backfills) against a
// real PostgreSQL: semantics that must match SQLite, and two store instances on one database racing.
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../../src/store/postgres/store.js'
import type { Store } from '../../src/store/types.js'
import { freshDatabase } from '../support/postgres.js'

const stores: Store[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

async function open(url: string): Promise<Store> {
  const s = await openPostgresStore(url)
  stores.push(s)
  return s
}

describe('PostgreSQL core schema', () => {
  it('migrates a fresh database, and a second opener finds nothing to do', async () => {
    const url = await freshDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    await a.setMeta('k', 'v1')
    await b.setMeta('k', 'v2')
    expect(await a.getMeta('k')).toBe('v2')
    expect(await a.getMeta('missing')).toBeUndefined()
  })
})
