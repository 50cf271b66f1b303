// The ManifestContext the server lints with: the catalog (src/stack/catalog.ts) of built-in stacks and
// computes plus every `type: stack` / `type: compute` applied to the store. Stacks and computes applied
// earlier in the same request are added as the request is linted.
import type { ManifestContext, ManifestLimitSettings } from '../manifest/index.js'
import type { Resource } from '../manifest/model.js'
import type { Store } from '../store/types.js'
import { Catalog } from '../stack/catalog.js'
import { validateStackSpec } from '../stack/validate.js'
import { stackDefinitionFromBody } from '../stack/definition.js'
import { checkTemplate } from '../projection/check.js'
import { checkExpression } from '../expr/index.js'

export interface ServerManifestContext extends ManifestContext {
  /** Makes a stack or compute linted earlier in this request resolvable for the documents after it. */
  add(resource: Resource): void
  /** The catalog as linted so far (store plus this request's stacks and computes). */
  catalog: Catalog
}

export async function buildManifestContext(store: Store, limits?: ManifestLimitSettings): Promise<ServerManifestContext> {
  const catalog = await Catalog.fromStore(store)
  return {
    // withBatch reads the catalog as it is then, so what add() put in counts for the documents after it.
    ...catalog.view({ computes: true }),
    validateStackSpec,
    checkTemplate,
    checkExpression,
    stackDefinitionFromBody,
    ...(limits ? { limits } : {}),
    add: (resource: Resource) => {
      catalog.add(resource)
    },
    catalog,
  }
}
