// JSON Schemas of every route's params, query, body and response. Fastify validates
// with them and the OpenAPI document is generated from the very same objects.
export * from './schemas-identity.js'
import { YAML_LIMITS } from '../manifest/load.js'
import { MAX_BACKFILL_FIRES, MAX_BACKFILL_PARALLEL, MAX_STEP_SELECTION } from '../manifest/limits.js'
import { RUN_TRIGGER_KINDS } from '../store/types.js'

export const NAME = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 48 } as const
const TYPE = { type: 'string', pattern: '^[a-z][-a-z0-9]*$', maxLength: 48 } as const

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              code: { type: 'string' }, message: { type: 'string' }, file: { type: 'string' }, line: { type: 'integer' },
              column: { type: 'integer' }, path: { type: 'string' }, document: { type: 'integer' },
            },
          },
        },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const

const resourceRow = {
  type: 'object',
  properties: {
    id: { type: 'string' }, workspace: { type: ['string', 'null'] }, type: { type: 'string' }, name: { type: 'string' },
    version: { type: 'string' }, revision: { type: 'integer' }, owner: { type: 'string' }, status: { type: 'string' },
    statusReason: { type: 'string' }, runtime: { type: 'string' }, createdAt: { type: 'string' }, updatedAt: { type: 'string' },
  },
} as const

const runRecord = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' }, resourceId: { type: 'string' }, workspace: { type: ['string', 'null'] },
    resourceName: { type: 'string' }, revision: { type: 'integer' }, trigger: { type: 'string', description: `${RUN_TRIGGER_KINDS.filter((k) => k !== 'webhook').join(', ')}, or webhook:NAME (the workflow's trigger NAME)` }, state: { type: 'string' },
    reason: { type: 'string' }, scheduledAt: { type: 'string' }, lateBySeconds: { type: 'number' }, retryOf: { type: 'string' },
    params: { type: 'object', additionalProperties: true, description: 'The params the run was started with (defaults filled in); secret ones read ***' },
    traceId: { type: 'string', description: 'The run\'s OpenTelemetry trace id (32 hex digits), when traces were on as it was created' },
    createdAt: { type: 'string' }, startedAt: { type: 'string' }, finishedAt: { type: 'string' },
  },
} as const

export const wsParams = { type: 'object', properties: { ws: NAME }, required: ['ws'] } as const
export const wsResourceParams = {
  type: 'object', properties: { ws: NAME, type: TYPE, name: NAME }, required: ['ws', 'type', 'name'],
} as const
export const instanceResourceParams = {
  type: 'object', properties: { type: TYPE, name: NAME }, required: ['type', 'name'],
} as const
export const runIdParams = { type: 'object', properties: { id: { type: 'string', maxLength: 128 } }, required: ['id'] } as const

export const applyQuery = { type: 'object', properties: { dryRun: { type: 'boolean', default: false } } } as const
export const applyBody = {
  type: 'object',
  properties: {
    documents: {
      type: 'array',
      // The same bound as documents per file (400 beyond).
      maxItems: YAML_LIMITS.maxDocuments,
      description: 'Manifests (already interpolated), each either bare or wrapped as {source: {file, index}, manifest}',
      items: {},
    },
    params: {
      type: 'object',
      description: 'Params of the run the apply starts: one unscheduled workflow only; checked against its declarations (422), at most 64 KiB as JSON',
    },
  },
  required: ['documents'],
} as const
export const applyResponse = {
  type: 'object',
  properties: {
    dryRun: { type: 'boolean' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' }, version: { type: 'string' }, type: { type: 'string' }, workspace: { type: ['string', 'null'] },
          outcome: { type: 'string', enum: ['created', 'updated', 'unchanged'] }, revision: { type: 'integer' },
          runId: { type: 'string', description: 'The run this apply started (an unscheduled workflow created or changed)' },
          params: { type: 'object', additionalProperties: true, description: 'Params of that run (or the one a dry run would start); secret ones read ***' },
          note: { type: 'string', description: 'Why a changed unscheduled workflow started no run (a required param not given)' },
          steps: {
            type: 'array',
            description: 'Dry run with params: per step (a fanned-out one as one example instance) the Pod, ConfigMap and Secret (references only) of the run',
            items: {
              type: 'object',
              properties: { step: { type: 'string' }, instance: { type: 'string' }, note: { type: 'string' }, pod: {}, configMap: {}, secret: {} },
            },
          },
          manifest: {}, current: {},
        },
      },
    },
  },
} as const

export const listQuery = {
  type: 'object',
  properties: {
    workspace: NAME, all: { type: 'boolean', default: false }, type: TYPE, name: NAME, owner: { type: 'string', maxLength: 128 },
    deleted: { type: 'boolean', default: false, description: 'Only deleted resources (their revisions, runs and logs stay readable)' },
    format: { type: 'string', enum: ['objects', 'table'], default: 'objects', description: 'table: the `get` columns as rows of cells (server-side printing, as Kubernetes Tables)' },
    labelSelector: { type: 'string', maxLength: 4096, description: "kubectl's selector grammar: team=core,env!=dev,tier in (a,b),tier notin (c),key,!key" },
    tags: { type: 'string', maxLength: 2048, description: 'Comma-separated tags a resource must all carry' },
  },
} as const
export const listResponse = {
  type: 'object',
  properties: {
    resources: { type: 'array', items: resourceRow },
    columns: { type: 'array', items: { type: 'string' } },
    rows: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
  },
} as const

export const getQuery = {
  type: 'object',
  properties: {
    revisions: { type: 'boolean', default: false },
    unsanitized: { type: 'boolean', default: false, description: 'Secret values in clear (tenant-admin or grant manage; audited)' },
    revision: { type: 'integer', minimum: 1, maximum: 2147483647, description: 'The manifest of this stored revision instead of the current one' },
  },
} as const
export const rollbackBody = {
  type: 'object', additionalProperties: false, required: ['toRevision'],
  properties: { toRevision: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const
export const rollbackResponse = {
  type: 'object',
  properties: {
    name: { type: 'string' }, version: { type: 'string' }, type: { type: 'string' }, workspace: { type: ['string', 'null'] },
    outcome: { type: 'string', enum: ['created', 'updated', 'unchanged'] }, revision: { type: 'integer' }, toRevision: { type: 'integer' },
    runId: { type: 'string' }, dryRun: { type: 'boolean' },
  },
} as const
export const getResponse = {
  type: 'object',
  properties: {
    resource: resourceRow,
    manifest: {},
    shownRevision: { type: 'integer' },
    revisions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { revision: { type: 'integer' }, hash: { type: 'string' }, createdBy: { type: 'string' }, createdAt: { type: 'string' } },
      },
    },
  },
} as const

export const deleteQuery = { type: 'object', properties: { force: { type: 'boolean', default: false } } } as const
export const deleteResponse = {
  type: 'object',
  properties: {
    deleted: {
      type: 'object',
      properties: { workspace: { type: ['string', 'null'] }, type: { type: 'string' }, name: { type: 'string' }, revision: { type: 'integer' } },
    },
  },
} as const

/** The console's workflow stream: fewer runs than a listing may ask for (it is read again and again). */
export const streamRunsQuery = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } } as const
/** `changes=true`: lines after the first carry only the step attempts that changed (what --wait asks for). */
export const watchQuery = {
  type: 'object',
  properties: { changes: { type: 'boolean', default: false, description: 'Lines after the first carry changedSteps (the step attempts that changed) instead of steps; the last line is whole' } },
} as const
export const runsQuery = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } } } as const
export const runActionBody = {
  type: ['object', 'null'],
  properties: { runId: { type: 'string', maxLength: 128 } },
  additionalProperties: false,
} as const
/** `runtime approve|reject`: every field bounded; the comment is audited and may end up in a step's reason. */
export const approvalBody = {
  type: 'object',
  properties: {
    runId: { type: 'string', maxLength: 128 },
    step: { type: 'string', minLength: 1, maxLength: 253 },
    comment: { type: 'string', maxLength: 1024 },
  },
  required: ['step'],
  additionalProperties: false,
} as const
export const approvalResponse = {
  type: 'object',
  properties: { stepRun: { type: 'object', additionalProperties: true, description: 'The decided step run: approved ones are pending again (about to start), rejected ones failed' } },
} as const
/** `runtime stop`: `force` ends the run at once, without its finally steps. */
export const stopBody = {
  type: ['object', 'null'],
  properties: { runId: { type: 'string', maxLength: 128 }, force: { type: 'boolean' } },
  additionalProperties: false,
} as const
export const runNowBody = {
  type: ['object', 'null'],
  // Unknown fields are refused by the handler (400 naming them): here they would be dropped silently.
  properties: {
    params: { type: 'object', description: 'Run params by name, checked against the workflow\'s declared params (422 naming a missing, unknown or mistyped one); at most 64 KiB as JSON' },
    skip: { type: 'array', maxItems: MAX_STEP_SELECTION, items: { type: 'string', maxLength: 253 }, description: 'Steps left out (stored skipped; their dependents skip too); 422 naming unknown steps' },
    only: { type: 'array', maxItems: MAX_STEP_SELECTION, items: { type: 'string', maxLength: 253 }, description: 'Run only these steps and their ancestors; 422 naming unknown steps' },
  },
} as const
export const runResponse = { type: 'object', properties: { run: runRecord } } as const
export const backfillBody = {
  type: 'object',
  required: ['from', 'to'],
  // Unknown fields are refused by the handler (400 naming them).
  properties: {
    from: { type: 'string', maxLength: 64, description: 'First time of the range (included): RFC 3339, or a date (its start in the schedule\'s time zone)' },
    to: { type: 'string', maxLength: 64, description: 'Last time of the range (included): RFC 3339, or a date (through its end in the schedule\'s time zone)' },
    parallel: { type: 'integer', minimum: 1, maximum: MAX_BACKFILL_PARALLEL, default: 1, description: 'Most runs of this backfill running together; under Forbid and Replace, one run of the workflow at a time' },
  },
} as const
export const backfillResponse = {
  type: 'object',
  properties: {
    times: { type: 'array', items: { type: 'string' }, description: `The fire times in the range, oldest first (at most ${MAX_BACKFILL_FIRES})` },
    backfill: {
      type: 'object',
      properties: {
        id: { type: 'string' }, resourceId: { type: 'string' }, trigger: { type: 'string' }, parallel: { type: 'integer' },
        state: { type: 'string' }, createdBy: { type: 'string' }, createdAt: { type: 'string' }, finishedAt: { type: 'string' },
      },
    },
    runs: { type: 'array', items: runRecord, description: 'The runs started at once; the others start as these end' },
    dryRun: { type: 'boolean' },
  },
} as const
export const runsResponse = { type: 'object', properties: { runs: { type: 'array', items: runRecord } } } as const
export const runDetailResponse = {
  type: 'object',
  properties: {
    run: runRecord,
    steps: { type: 'array', items: { type: 'object', additionalProperties: true } },
    progress: { type: 'string' },
    live: { type: 'object', additionalProperties: { type: 'object', properties: { phase: { type: 'string' }, message: { type: 'string' } } } },
    allowedFailures: { type: 'array', items: { type: 'string' } },
    finally: { type: 'array', items: { type: 'string' } },
    dagStatus: { type: 'string' },
  },
} as const

export const nodeParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 128 }, node: { type: 'string', maxLength: 160 } },
  required: ['id', 'node'],
} as const
export const nodeDetailResponse = {
  type: 'object',
  properties: {
    run: runRecord,
    attempts: { type: 'array', items: { type: 'object', additionalProperties: true } },
    description: { type: 'object', additionalProperties: true },
    descriptionError: { type: 'string' },
  },
} as const

export const logsQuery = {
  type: 'object',
  properties: {
    step: { type: 'string', maxLength: 128 },
    attempt: { type: 'integer', minimum: 1 },
    afterSeq: { type: 'integer', minimum: 0 },
    tail: { type: 'integer', minimum: 0 },
    follow: { type: 'boolean', default: false },
  },
} as const

export const infoResponse = {
  type: 'object',
  properties: {
    version: { type: 'string' }, apiVersion: { type: 'string' }, store: { type: 'string' },
    runtime: { type: 'object', properties: { name: { type: 'string' }, sandbox: { type: 'string' }, detail: { type: 'string' } } },
  },
} as const
export const healthResponse = { type: 'object', properties: { status: { type: 'string' } } } as const
export const replicasResponse = {
  type: 'object',
  properties: {
    store: { type: 'string' },
    self: { type: 'string' },
    replicas: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' }, host: { type: 'string' }, pid: { type: 'integer' }, url: { type: 'string' }, version: { type: 'string' },
          startedAt: { type: 'string' }, heartbeatAt: { type: 'string' }, alive: { type: 'boolean' }, runsOwned: { type: 'integer' },
        },
      },
    },
  },
} as const

/** Standard error responses every authenticated route can give. */
export function withErrors<T extends Record<number, unknown>>(ok: T, ...codes: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = { ...ok }
  for (const c of [400, 401, 403, 500, ...codes]) out[c] = errorSchema
  return out
}
