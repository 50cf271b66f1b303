// The store contract. The engine, the server and the CLI's offline paths talk only to this, so the
// embedded SQLite file and PostgreSQL stay interchangeable. It is split per area, like Dagu's narrow
// stores (a caller that needs one area takes that interface):
//   contract-resources.ts ResourceStore   resources and revisions
//   contract-runs.ts      RunStore        runs, step attempts, instances, outputs
//   contract-logs.ts      LogStore        log lines (+ LogNotifier: waiting for new ones)
//   contract-identity.ts  IdentityStore   users, API keys, bindings, workspaces, grants, audit
//   contract-schedules.ts ScheduleStore   schedules, backfills, meta
//   leases.ts             LeaseStore      replicas, run leases, fire claims, counters
// This file is the barrel (import from here or store/index.ts) and composes them into Store.
// Everything is async because the PostgreSQL implementation is; records are plain data.
// test/store/conformance is the suite every implementation must pass.

import type { IdentityStore } from './contract-identity.js'
import type { LogNotifier, LogStore } from './contract-logs.js'
import type { ResourceStore } from './contract-resources.js'
import type { RunStore } from './contract-runs.js'
import type { ScheduleStore } from './contract-schedules.js'
import type { LeaseStore } from './leases.js'

export * from './contract-identity.js'
export * from './contract-logs.js'
export * from './contract-resources.js'
export * from './contract-runs.js'
export * from './contract-schedules.js'
export type { LeaseStore, ReplicaRecord, RunLeaseRecord } from './leases.js'

export interface Store extends ResourceStore, RunStore, LogStore, LogNotifier, IdentityStore, ScheduleStore, LeaseStore {
  readonly kind: 'sqlite' | 'postgres'
  /** Closes connections and ends every waitForLogs. */
  close(): Promise<void>
}
