// The store conformance suite: what every Store implementation must do, area by area (the
// contract in src/store/contract-*.ts). Run by sqlite.contract.test.ts and postgres.contract.test.ts;
// a new implementation passes this before anything else uses it.
import { describe } from 'vitest'
import { storeHarness, type FreshStoreUrl } from './harness.js'
import { identityContract } from './identity.js'
import { instancesContract } from './instances.js'
import { leaseContract } from './leases.js'
import { logContract } from './logs.js'
import { logWaitContract } from './log-wait.js'
import { plainContract } from './plain.js'
import { resourceContract } from './resources.js'
import { runContract } from './runs.js'
import { scheduleContract } from './schedules.js'

export type { FreshStoreUrl, StoreHarness } from './harness.js'

export interface StoreContractOptions {
  /** Whether an append through one instance wakes waitForLogs in another (PostgreSQL: yes; SQLite: through the timeout only). */
  wakesOtherInstances: boolean
}

/**
 * Describes the whole contract for the store `fresh()` names: each test opens (with openStore) a
 * fresh, empty database, and a second instance on the same one where it tests replicas.
 */
export function describeStoreContract(name: string, fresh: FreshStoreUrl, options: StoreContractOptions): void {
  describe(`store contract: ${name}`, () => {
    const h = storeHarness(name, fresh)
    resourceContract(h)
    runContract(h)
    logContract(h)
    logWaitContract(h, options)
    scheduleContract(h)
    identityContract(h)
    leaseContract(h)
    instancesContract(h)
    plainContract(h)
  })
}
