// The embedded SQLite store: one file, WAL, safe for several processes (the
// server and CLI tools) opening it at once.
import { nowIso } from './ids.js'
import { SqliteDb, type SqliteOptions } from './sqlite-db.js'
import * as identity from './sqlite-identity.js'
import * as logs from './sqlite-logs.js'
import * as resources from './sqlite-resources.js'
import { toSchedule, type ScheduleRow } from './rows.js'
import * as runs from './sqlite-runs.js'
import * as backfills from './sqlite-backfills.js'
import * as leases from './sqlite-leases.js'
import { LogWaiters } from './log-waiters.js'
import type { ReplicaRecord, RunLeaseRecord } from './leases.js'
import type {
  BackfillRecord,
  BackfillState,
  BackfillTimeRecord,
  BackfillTimeState,
  CreateBackfillInput,
  ApiKeyRecord,
  AuditInput,
  AuditRecord,
  CreateApiKeyInput,
  CreateUserInput,
  GrantRecord,
  RoleBindingRecord,
  UserRecord,
  WorkspaceRecord,
  ApplyResourceInput,
  ApplyResourceResult,
  CreateRunInput,
  ListResourcesFilter,
  LogChunk,
  LogLineInput,
  LogLineRecord,
  LogQuery,
  ResourceKey,
  ResourceRecord,
  ResourceStatus,
  RevisionRecord,
  RunPatch,
  RunFilter,
  RunRecord,
  RunState,
  ScheduleRecord,
  StepRunPatch,
  NewStepInstance,
  StepRunRecord,
  StepState,
  Store,
  ResourceSummary,
} from './types.js'

export type { SqliteOptions } from './sqlite-db.js'
export { LATEST_SCHEMA_VERSION } from './migrations/index.js'

/** Opens (creating and migrating as needed) the SQLite store at `file`. Throws CtlError
 *  E_UNAVAILABLE if the file cannot be opened or its schema is newer than this code. */
export function openSqliteStore(file: string, options?: SqliteOptions): Store {
  return new SqliteStore(new SqliteDb(file, options))
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  /** Log followers of this process; other processes on the file are seen only by their timeout. */
  private readonly waiters = new LogWaiters()
  constructor(private readonly db: SqliteDb) {}

  async close(): Promise<void> {
    this.waiters.closeAll()
    this.db.close()
  }

  applyResource(input: ApplyResourceInput): Promise<ApplyResourceResult> {
    return resources.applyResource(this.db, input)
  }
  getResource(key: ResourceKey, options?: { includeDeleted?: boolean }): Promise<ResourceRecord | undefined> {
    return resources.getResource(this.db, key, options?.includeDeleted)
  }
  getResourceById(id: string): Promise<ResourceRecord | undefined> {
    return resources.getResourceById(this.db, id)
  }
  listResources(filter: ListResourcesFilter): Promise<ResourceRecord[]> {
    return resources.listResources(this.db, filter)
  }

  listResourceSummaries(filter: ListResourcesFilter): Promise<ResourceSummary[]> {
    return resources.listResourceSummaries(this.db, filter)
  }
  listRevisions(resourceId: string): Promise<RevisionRecord[]> {
    return resources.listRevisions(this.db, resourceId)
  }
  getRevision(resourceId: string, revision: number): Promise<RevisionRecord | undefined> {
    return resources.getRevision(this.db, resourceId, revision)
  }
  setResourceStatus(id: string, status: ResourceStatus, reason?: string, revision?: number): Promise<void> {
    return resources.setResourceStatus(this.db, id, status, reason, revision)
  }
  deleteResource(id: string): Promise<void> {
    return resources.deleteResource(this.db, id)
  }

  createRun(input: CreateRunInput): Promise<{ run: RunRecord; steps: StepRunRecord[] }> {
    return runs.createRun(this.db, input)
  }
  getRun(id: string): Promise<RunRecord | undefined> {
    return runs.getRun(this.db, id)
  }
  listRuns(filter: RunFilter): Promise<RunRecord[]> {
    return runs.listRuns(this.db, filter)
  }
  listLatestRuns(resourceIds: readonly string[]): Promise<RunRecord[]> {
    return runs.listLatestRuns(this.db, resourceIds)
  }
  updateRun(id: string, patch: RunPatch, fromStates?: RunState[]): Promise<boolean> {
    return runs.updateRun(this.db, id, patch, fromStates)
  }
  getStepRun(id: string): Promise<StepRunRecord | undefined> {
    return runs.getStepRun(this.db, id)
  }
  listStepRuns(runId: string): Promise<StepRunRecord[]> {
    return runs.listStepRuns(this.db, runId)
  }
  stepOutputs(runId: string): Promise<Map<string, Record<string, string>>> {
    return runs.stepOutputs(this.db, runId)
  }
  createStepInstances(runId: string, parent: string, instances: readonly NewStepInstance[]): Promise<StepRunRecord[]> {
    return runs.createStepInstances(this.db, runId, parent, instances)
  }
  createStepAttempt(runId: string, step: string, attempt: number, notBefore?: string): Promise<StepRunRecord> {
    return runs.createStepAttempt(this.db, runId, step, attempt, notBefore)
  }
  updateStepRun(id: string, patch: StepRunPatch, fromStates?: StepState[]): Promise<boolean> {
    return runs.updateStepRun(this.db, id, patch, fromStates)
  }
  listActiveStepRuns(): Promise<StepRunRecord[]> {
    return runs.listActiveStepRuns(this.db)
  }

  appendLogs(stepRunId: string, lines: LogLineInput[], newOffset: number, fromOffset?: number): Promise<boolean> {
    return logs.appendLogs(this.db, stepRunId, lines, newOffset, fromOffset).then((runId) => {
      if (runId === undefined) return false
      if (lines.length > 0) this.waiters.notify(runId)
      return true
    })
  }
  readLogs(query: LogQuery): Promise<LogLineRecord[]> {
    return logs.readLogs(this.db, query)
  }
  iterateLogs(query: LogQuery, pageSize?: number): AsyncIterable<LogLineRecord[]> {
    return logs.iterateLogs(this.db, query, pageSize)
  }
  iterateLogChunks(query: LogQuery): AsyncIterable<LogChunk> {
    return logs.iterateLogChunks(this.db, query)
  }
  deleteLogsBefore(time: string): Promise<number> {
    return logs.deleteLogsBefore(this.db, time)
  }

  async getSchedule(resourceId: string): Promise<ScheduleRecord | undefined> {
    return this.db.read(() => {
      const row = this.db.stmt('SELECT * FROM schedules WHERE resource_id = ?').get(resourceId) as ScheduleRow | undefined
      return row && toSchedule(row)
    })
  }
  async putSchedule(record: Omit<ScheduleRecord, 'updatedAt'>): Promise<void> {
    await this.db.write(() =>
      this.db
        .stmt(
          `INSERT INTO schedules (resource_id, revision, next_fire_at, last_fire_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (resource_id) DO UPDATE SET revision = excluded.revision, next_fire_at = excluded.next_fire_at,
             last_fire_at = excluded.last_fire_at, updated_at = excluded.updated_at`,
        )
        .run(record.resourceId, record.revision, record.nextFireAt ?? null, record.lastFireAt ?? null, nowIso()),
    )
  }
  async deleteSchedule(resourceId: string): Promise<void> {
    await this.db.write(() => this.db.stmt('DELETE FROM schedules WHERE resource_id = ?').run(resourceId))
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.db.read(() =>
      (this.db.stmt('SELECT * FROM schedules ORDER BY next_fire_at, resource_id').all() as ScheduleRow[]).map(toSchedule),
    )
  }

  // backfills (sqlite-backfills.ts)
  createBackfill(input: CreateBackfillInput): Promise<BackfillRecord> {
    return backfills.createBackfill(this.db, input)
  }
  getBackfill(id: string): Promise<BackfillRecord | undefined> {
    return backfills.getBackfill(this.db, id)
  }
  listBackfills(filter: { resourceId?: string; states?: BackfillState[] }): Promise<BackfillRecord[]> {
    return backfills.listBackfills(this.db, filter)
  }
  listBackfillTimes(backfillId: string): Promise<BackfillTimeRecord[]> {
    return backfills.listBackfillTimes(this.db, backfillId)
  }
  updateBackfillTime(backfillId: string, fireAt: string, patch: { state: BackfillTimeState; runId?: string }, fromStates: BackfillTimeState[]): Promise<boolean> {
    return backfills.updateBackfillTime(this.db, backfillId, fireAt, patch, fromStates)
  }
  finishBackfill(id: string, state: 'done' | 'cancelled'): Promise<boolean> {
    return backfills.finishBackfill(this.db, id, state)
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.db.read(() => {
      const row = this.db.stmt('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined
      return row?.value
    })
  }
  async setMeta(key: string, value: string): Promise<void> {
    await this.db.write(() =>
      this.db
        .stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
        .run(key, value),
    )
  }
  // identity
  createUser(input: CreateUserInput): Promise<UserRecord> {
    return identity.createUser(this.db, input)
  }
  getUser(id: string, options?: { includeDeleted?: boolean }): Promise<UserRecord | undefined> {
    return identity.getUser(this.db, id, options?.includeDeleted)
  }
  listUsers(options?: { includeDeleted?: boolean }): Promise<UserRecord[]> {
    return identity.listUsers(this.db, options?.includeDeleted)
  }
  deleteUser(id: string): Promise<void> {
    return identity.deleteUser(this.db, id)
  }
  createApiKey(input: CreateApiKeyInput): Promise<ApiKeyRecord> {
    return identity.createApiKey(this.db, input)
  }
  listApiKeys(userId: string): Promise<ApiKeyRecord[]> {
    return identity.listApiKeys(this.db, userId)
  }
  revokeApiKey(userId: string, keyId: string): Promise<boolean> {
    return identity.revokeApiKey(this.db, userId, keyId)
  }
  findApiKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; user: UserRecord } | undefined> {
    return identity.findApiKeyByHash(this.db, hash)
  }
  touchApiKey(keyId: string, time: string): Promise<void> {
    return identity.touchApiKey(this.db, keyId, time)
  }
  addRoleBinding(input: Omit<RoleBindingRecord, 'createdAt'>): Promise<boolean> {
    return identity.addRoleBinding(this.db, input)
  }
  removeRoleBinding(userId: string, role: string, workspace: string | null): Promise<boolean> {
    return identity.removeRoleBinding(this.db, userId, role, workspace)
  }
  listRoleBindings(filter: { userId?: string; workspace?: string | null }): Promise<RoleBindingRecord[]> {
    return identity.listRoleBindings(this.db, filter)
  }
  createWorkspace(input: Omit<WorkspaceRecord, 'createdAt'>): Promise<WorkspaceRecord> {
    return identity.createWorkspace(this.db, input)
  }
  getWorkspace(name: string): Promise<WorkspaceRecord | undefined> {
    return identity.getWorkspace(this.db, name)
  }
  listWorkspaces(): Promise<WorkspaceRecord[]> {
    return identity.listWorkspaces(this.db)
  }
  deleteWorkspace(name: string): Promise<void> {
    return identity.deleteWorkspace(this.db, name)
  }
  addGrant(input: Omit<GrantRecord, 'createdAt'>): Promise<boolean> {
    return identity.addGrant(this.db, input)
  }
  removeGrant(resourceId: string, userId: string, permission: string): Promise<boolean> {
    return identity.removeGrant(this.db, resourceId, userId, permission)
  }
  listGrants(filter: { resourceId?: string; userId?: string }): Promise<GrantRecord[]> {
    return identity.listGrants(this.db, filter)
  }
  deleteGrantsForResource(resourceId: string): Promise<void> {
    return identity.deleteGrantsForResource(this.db, resourceId)
  }
  appendAudit(entry: AuditInput): Promise<void> {
    return identity.appendAudit(this.db, entry)
  }
  listAudit(filter: { since?: string; limit?: number }): Promise<AuditRecord[]> {
    return identity.listAudit(this.db, filter)
  }

  waitForLogs(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(runId, timeoutMs, signal)
  }

  // replicas, leases and fire claims (sqlite-leases.ts)
  heartbeatReplica(replica: Omit<ReplicaRecord, 'heartbeatAt'>, now: string): Promise<void> {
    return leases.heartbeatReplica(this.db, replica, now)
  }
  listReplicas(): Promise<ReplicaRecord[]> {
    return leases.listReplicas(this.db)
  }
  removeReplica(id: string): Promise<void> {
    return leases.removeReplica(this.db, id)
  }
  acquireRunLease(runId: string, owner: string, now: string, expiresAt: string): Promise<boolean> {
    return leases.acquireRunLease(this.db, runId, owner, now, expiresAt)
  }
  leaseClock(): Promise<string | undefined> {
    return Promise.resolve(undefined)
  }
  renewRunLeases(owner: string, expiresAt: string): Promise<string[]> {
    return leases.renewRunLeases(this.db, owner, expiresAt)
  }
  releaseRunLease(runId: string, owner: string): Promise<void> {
    return leases.releaseRunLease(this.db, runId, owner)
  }
  listRunLeases(): Promise<RunLeaseRecord[]> {
    return leases.listRunLeases(this.db)
  }
  claimFire(key: string, fireAt: string, owner: string): Promise<boolean> {
    return leases.claimFire(this.db, key, fireAt, owner)
  }
  releaseFire(key: string, fireAt: string, owner: string): Promise<void> {
    return leases.releaseFire(this.db, key, fireAt, owner)
  }
  pruneFireClaims(before: string): Promise<number> {
    return leases.pruneFireClaims(this.db, before)
  }
  addToCounter(key: string, window: string, by: number): Promise<number> {
    return leases.addToCounter(this.db, key, window, by)
  }
  readCounter(key: string, window: string): Promise<number> {
    return leases.readCounter(this.db, key, window)
  }
  pruneCounters(before: string): Promise<number> {
    return leases.pruneCounters(this.db, before)
  }
}
