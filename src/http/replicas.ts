// The replicas sharing the store as the API shows them (GET /api/v1/replicas): every row, alive or not, and
// the run leases each holds. The heartbeat that keeps a row fresh is the control plane's (controlplane/replicas.ts).
import type { Store } from '../store/types.js'
import type { ReplicaInfo, ReplicasResponse } from '../api/types.js'

/** How often a replica says it is alive. */
export const REPLICA_HEARTBEAT_MS = 5_000
/** A replica silent this long counts as gone (three heartbeats missed; the run leases' default expiry too). */
export const REPLICA_ALIVE_MS = 15_000

/** What `GET /api/v1/replicas` answers: every replica row, whether it is alive, and how many run leases it holds. */
export async function replicasView(store: Store, self: string, now = new Date()): Promise<ReplicasResponse> {
  const [rows, leases] = await Promise.all([store.listReplicas(), store.listRunLeases()])
  const owned = new Map<string, number>()
  for (const l of leases) owned.set(l.owner, (owned.get(l.owner) ?? 0) + 1)
  const replicas = rows.map((r): ReplicaInfo => ({
    ...r,
    alive: now.getTime() - Date.parse(r.heartbeatAt) <= REPLICA_ALIVE_MS,
    runsOwned: owned.get(r.id) ?? 0,
  }))
  return { store: store.kind, self, replicas }
}
