// Stored revisions of resources, parsed once: a revision never changes once stored, and none is ever deleted (a
// deleted resource keeps its rows), so a parsed one can be kept. A watch asks for its run's workflow every 100 ms,
// and every run's first scheduler pass asks for it too: parsing a big manifest each time was a good part of both.

import type { RevisionRecord, Store } from '../store/types.js'

const cache = new WeakMap<Store, Map<string, RevisionRecord>>()
const CACHE_SIZE = 64

/** The revision as store.getRevision answers it; the record is shared: callers must not change it. */
export async function storedRevision(store: Store, resourceId: string, revision: number): Promise<RevisionRecord | undefined> {
  let byKey = cache.get(store)
  if (!byKey) cache.set(store, (byKey = new Map()))
  const key = `${resourceId}\u0000${revision}`
  const hit = byKey.get(key)
  if (hit) return hit
  const found = await store.getRevision(resourceId, revision)
  // Not found: not cached (it may be stored in a moment by another replica).
  if (!found) return undefined
  if (byKey.size >= CACHE_SIZE) byKey.delete(byKey.keys().next().value!)
  byKey.set(key, found)
  return found
}
