// The manifest context when no control plane is asked: built-in stacks and
// computes only. Lint and client-side dry runs use exactly the checks the
// server runs; the server's context merely knows more applied resources.
import type { ManifestContext } from '../manifest/index.js'
import { Catalog } from '../stack/catalog.js'
import { validateStackSpec } from '../stack/validate.js'
import { stackDefinitionFromBody } from '../stack/definition.js'
import { checkTemplate } from '../projection/check.js'
import { checkExpression } from '../expr/index.js'

/** Computes are not checked offline: the control plane may know applied ones this catalog does not. */
export function offlineManifestContext(catalog: Catalog = Catalog.builtin()): ManifestContext {
  return {
    ...catalog.view(),
    validateStackSpec,
    checkTemplate,
    checkExpression,
    stackDefinitionFromBody,
  }
}
