// Run params on the wire: a request body never drops a field silently, given params are bounded, and
// secret params (`secret: true` in the revision's declarations) go out as `***` in every run the API
// answers with. They are stored as given: the engine needs them, logs redact them at launch.
import { CtlError } from '../errors.js'
import { checkRunParamsSize } from '../manifest/limits.js'
import type { ParamSpec, WorkflowResource } from '../manifest/model.js'
import type { RunRecord, Store } from '../store/types.js'
import { SECRET_MASK } from './keys.js'

/** 400 naming the first field of `body` not in `allowed`. Fastify's schema check would drop it silently instead. */
export function refuseUnknownFields(body: unknown, allowed: readonly string[], what: string): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return
  const unknown = Object.keys(body).find((k) => !allowed.includes(k))
  if (unknown === undefined) return
  throw new CtlError('E_USAGE', `unknown field "${unknown}" in the body of ${what}; it takes ${allowed.map((a) => `"${a}"`).join(', ')}`, { field: unknown })
}

/** Given params: an object of at most MAX_RUN_PARAMS_BYTES as JSON (E_USAGE / E_TOO_LARGE otherwise). */
export function givenParams(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw new CtlError('E_USAGE', '"params" must be an object of param names to values')
  const params = value as Record<string, unknown>
  checkRunParamsSize(params)
  return params
}

/** The params with every secret one replaced by SECRET_MASK. */
export function maskParams(decls: readonly ParamSpec[] | undefined, params: Record<string, unknown>): Record<string, unknown> {
  const secret = new Set((decls ?? []).filter((d) => d.secret).map((d) => d.name))
  if (secret.size === 0) return params
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, secret.has(k) ? SECRET_MASK : v]))
}

/**
 * Masks the secret params of runs, reading each revision's declarations once (runs without params
 * cost nothing). One per request or watch: revisions never change, so what it caches stays true.
 */
export class RunParamsMasker {
  private readonly decls = new Map<string, Promise<ParamSpec[] | undefined>>()

  constructor(private readonly store: Store) {}

  private declarations(run: RunRecord): Promise<ParamSpec[] | undefined> {
    const key = `${run.resourceId}@${run.revision}`
    let found = this.decls.get(key)
    if (!found) {
      found = this.store.getRevision(run.resourceId, run.revision).then((rev) => (rev?.manifest as WorkflowResource | undefined)?.workflow?.params)
      this.decls.set(key, found)
    }
    return found
  }

  async run(run: RunRecord): Promise<RunRecord> {
    if (!run.params) return run
    const decls = await this.declarations(run)
    // Without its declarations (a revision gone) nothing can say which are secret: none is shown.
    const params = decls ? maskParams(decls, run.params) : Object.fromEntries(Object.keys(run.params).map((k) => [k, SECRET_MASK]))
    return { ...run, params }
  }

  runs(runs: readonly RunRecord[]): Promise<RunRecord[]> {
    return Promise.all(runs.map((r) => this.run(r)))
  }
}
