// The store contract, resources and their revisions: what `apply`, `get` and the catalog need.
// Times are ISO-8601 UTC text with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text
// in both databases. Records are plain data: what a call returns stays whole after the store closes.

export type ResourceStatus = 'creating' | 'active' | 'error' | 'deleted'

/** `workspace` is null for instance-level types (`stack`, `compute`, `instance-secret`). */
export interface ResourceKey {
  workspace: string | null
  type: string
  name: string
}

export interface ResourceRecord extends ResourceKey {
  id: string
  version: string
  revision: number
  hash: string
  /** The normalized resource JSON of this revision, parsed (records are plain data; listings that need no manifests use listResourceSummaries). */
  manifest: unknown
  /** Who first created the resource (a later apply by someone else keeps it; see RevisionRecord.createdBy). */
  owner: string
  status: ResourceStatus
  statusReason?: string
  createdAt: string
  updatedAt: string
}

/** A resource record without its manifest. */
export type ResourceSummary = Omit<ResourceRecord, 'manifest'>

export interface RevisionRecord {
  resourceId: string
  revision: number
  /** Manifest version (`v1`, `v2alpha`, ...) of this revision. */
  version: string
  hash: string
  manifest: unknown
  createdBy: string
  createdAt: string
}

export interface ApplyResourceInput extends ResourceKey {
  version: string
  manifest: unknown
  owner: string
  /** Optimistic concurrency: apply only if the current revision is this one (0 = must not exist, deleted counts as not existing), else E_CONFLICT. */
  expectedRevision?: number
  /** Compute the outcome and the would-be record, write nothing. */
  dryRun?: boolean
  /** When given, the content hash is computed over this instead of `manifest` (secrets: values replaced by HMACs, so
   *  "unchanged" still works though ciphertexts differ). */
  hashSource?: unknown
}

export interface ApplyResourceResult {
  outcome: 'created' | 'updated' | 'unchanged'
  resource: ResourceRecord
}

export interface ListResourcesFilter {
  /** Exact workspace; null = instance-level resources only. Ignored with allWorkspaces. */
  workspace?: string | null
  allWorkspaces?: boolean
  type?: string
  name?: string
  owner?: string
  includeDeleted?: boolean
  /**
   * `get -l` and `get --tag`: only resources whose labels and tags pass (the caller builds it with
   * src/manifest/selector.ts; the store stays free of the manifest code and only reads the column).
   */
  select?: (meta: ResourceSelectors) => boolean
}

/** What `select` is given: the labels and tags of the current revision. */
export interface ResourceSelectors {
  labels?: Readonly<Record<string, string>>
  tags?: readonly string[]
}

export interface ResourceStore {
  applyResource(input: ApplyResourceInput): Promise<ApplyResourceResult>
  /** Deleted resources are hidden unless includeDeleted. */
  getResource(key: ResourceKey, options?: { includeDeleted?: boolean }): Promise<ResourceRecord | undefined>
  /** Returns deleted resources too (runs keep pointing at them). */
  getResourceById(id: string): Promise<ResourceRecord | undefined>
  /** Ordered by workspace, type, name; every record with its manifest (callers that need none use listResourceSummaries). */
  listResources(filter: ListResourcesFilter): Promise<ResourceRecord[]>
  /** The same rows without manifests, as plain objects: what `get` tables need, as cheaply as the store can. */
  listResourceSummaries(filter: ListResourcesFilter): Promise<ResourceSummary[]>
  /** Oldest first. */
  listRevisions(resourceId: string): Promise<RevisionRecord[]>
  getRevision(resourceId: string, revision: number): Promise<RevisionRecord | undefined>
  /**
   * E_NOT_FOUND when the resource does not exist. With `revision` (what a reconcile judged), a compare-and-set:
   * nothing is written when the resource has moved to another revision since (a newer reconcile, maybe on
   * another replica, owns its status) or was deleted.
   */
  setResourceStatus(id: string, status: ResourceStatus, reason?: string, revision?: number): Promise<void>
  /**
   * Marks the resource `deleted` and drops its schedule; revisions, runs and logs stay. A later apply
   * of the same key revives the SAME record (same id) with revision N+1 and outcome `created`,
   * even when the content equals the last revision, so history and run links survive.
   */
  deleteResource(id: string): Promise<void>
}
