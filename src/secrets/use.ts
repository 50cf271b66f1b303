// Where a workflow's secret references point. Whether they may be used is the access
// policy's (src/access/use.ts); this maps a manifest's SecretRef onto a resource key.
import type { SecretRef } from '../manifest/model.js'
import type { ResourceKey } from '../store/types.js'

/** Where a reference points, for a workflow in `workspace`. */
export function secretKeyOf(ref: SecretRef, workspace: string): ResourceKey {
  return ref.instance
    ? { workspace: null, type: 'instance-secret', name: ref.id }
    : { workspace: ref.workspace ?? workspace, type: 'secret', name: ref.id }
}
