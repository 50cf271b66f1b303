// The store contract, schedules: next fire times, backfills and their fire times, and the server's
// small key/value (meta).
// Times are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text
// in both databases. Records are plain data: what a call returns stays whole after the store closes.

import type { RunTrigger } from './contract-runs.js'

export interface ScheduleRecord {
  resourceId: string
  revision: number
  nextFireAt?: string
  lastFireAt?: string
  updatedAt: string
}

/** A backfill (or a catch-up after downtime): fire times of a workflow's schedule, run at most `parallel` at once. */
export type BackfillState = 'running' | 'done' | 'cancelled'
export interface BackfillRecord {
  id: string
  resourceId: string
  /** `backfill`, or `schedule` for missed fire times run by `catchUp: all`. */
  trigger: RunTrigger
  parallel: number
  state: BackfillState
  createdBy: string
  createdAt: string
  finishedAt?: string
}
/** `starting`: claimed, its run being created (a restart looks for that run before making one). */
export type BackfillTimeState = 'pending' | 'starting' | 'started'
export interface BackfillTimeRecord {
  backfillId: string
  fireAt: string
  state: BackfillTimeState
  runId?: string
}
export interface CreateBackfillInput {
  resourceId: string
  trigger: RunTrigger
  parallel: number
  createdBy: string
  /** RFC 3339 (ISO) fire times, each stored `pending`. */
  times: readonly string[]
}

/** The store's backfills (issue 12): what the engine's BackfillRunner persists so a restart starts no fire time twice. */
export interface BackfillStore {
  createBackfill(input: CreateBackfillInput): Promise<BackfillRecord>
  getBackfill(id: string): Promise<BackfillRecord | undefined>
  /** Oldest first. */
  listBackfills(filter: { resourceId?: string; states?: BackfillState[] }): Promise<BackfillRecord[]>
  /** Oldest fire time first. */
  listBackfillTimes(backfillId: string): Promise<BackfillTimeRecord[]>
  /** Compare-and-set on the time's state, like updateRun; returns whether it applied. */
  updateBackfillTime(backfillId: string, fireAt: string, patch: { state: BackfillTimeState; runId?: string }, fromStates: BackfillTimeState[]): Promise<boolean>
  /** Ends a running backfill; false when it was not running. */
  finishBackfill(id: string, state: 'done' | 'cancelled'): Promise<boolean>
}

export interface ScheduleStore extends BackfillStore {
  getSchedule(resourceId: string): Promise<ScheduleRecord | undefined>
  /** Insert or replace. */
  putSchedule(record: Omit<ScheduleRecord, 'updatedAt'>): Promise<void>
  deleteSchedule(resourceId: string): Promise<void>
  listSchedules(): Promise<ScheduleRecord[]>

  // small key/value for the server (admin key hash, settings)
  getMeta(key: string): Promise<string | undefined>
  setMeta(key: string, value: string): Promise<void>
}
