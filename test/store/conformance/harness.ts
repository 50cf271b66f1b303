// What every conformance area is given: stores on fresh databases, closed after each test, and
// more instances on the same database (another replica, or another process on one SQLite file).
import { afterEach } from 'vitest'
import { openStore } from '../../../src/store/open.js'
import type { Store } from '../../../src/store/types.js'

/** Gives the URL of a fresh, empty database each call (`openStore` opens it). */
export type FreshStoreUrl = () => Promise<string>

export interface StoreHarness {
  /** The implementation's name (`sqlite`, `postgres`), for the few places a test must know. */
  readonly name: string
  /** A store on a fresh, empty database; closed after the test. */
  store(): Promise<Store>
  /** Another instance on the same database as `store` (a second replica); closed after the test. */
  peer(store: Store): Promise<Store>
  /** Closes `store` now (a test about what outlives it), not again after the test. */
  close(store: Store): Promise<void>
  /** The URL `store` was opened on. */
  urlOf(store: Store): string
}

export function storeHarness(name: string, fresh: FreshStoreUrl): StoreHarness {
  const urls = new WeakMap<Store, string>()
  const open: Store[] = []
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close()
  })
  const openUrl = async (url: string): Promise<Store> => {
    const s = await openStore(url)
    urls.set(s, url)
    open.push(s)
    return s
  }
  const urlOf = (s: Store): string => {
    const url = urls.get(s)
    if (!url) throw new Error('not a store of this harness')
    return url
  }
  return {
    name,
    store: async () => openUrl(await fresh()),
    peer: async (s) => openUrl(urlOf(s)),
    close: async (s) => {
      const i = open.indexOf(s)
      if (i >= 0) open.splice(i, 1)
      await s.close()
    },
    urlOf,
  }
}

export function workflow(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, version: 'v1', type: 'workflow', workflow: { dag: [{ name: 'a', spec: { stack: 'alpha' } }] }, ...extra }
}

/** Applies workflow `wf` in `public` and returns it with its first run (steps a, b by default). */
export async function seedRun(store: Store, steps: string[] = ['a', 'b']) {
  const { resource } = await store.applyResource({
    workspace: 'public',
    type: 'workflow',
    name: 'wf',
    version: 'v1',
    manifest: workflow('wf'),
    owner: 'alice',
  })
  const created = await store.createRun({ resourceId: resource.id, revision: resource.revision, trigger: 'apply', steps })
  return { resource, ...created }
}

export async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iter) out.push(item)
  return out
}
