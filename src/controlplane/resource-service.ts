// The resource service the HTTP routes are given (http/routes/resources.ts ResourceService): apply,
// rollback and the delete check, bound to this control plane's store, engine, sealing key and bounds.
import type { EngineApi } from '../engine/api.js'
import type { Store } from '../store/types.js'
import type { SecretBox } from '../secrets/crypto.js'
import type { ManifestLimitSettings } from '../manifest/index.js'
import type { ResourceService } from '../http/routes/resources.js'
import { applyDocuments } from './apply.js'
import { rollback } from './rollback.js'
import { findDependents } from './dependents.js'

export interface ResourceServiceDeps {
  store: Store
  engine: EngineApi
  /** Seals secret values at apply; without it applying a secret is refused. */
  secrets?: SecretBox
  /** Bounds on manifests this server sets (steps per workflow). */
  limits?: ManifestLimitSettings
}

export function resourceService(deps: ResourceServiceDeps): ResourceService {
  const { store, engine } = deps
  return {
    apply: (principal, workspace, items, dryRun, params) => applyDocuments(deps, principal, workspace, items, dryRun, params),
    rollback: (principal, key, toRevision, dryRun) => rollback(store, engine, principal, key, toRevision, dryRun),
    dependents: (record) => findDependents(store, record),
  }
}
