// The manifest context when no control plane is asked: built-in stacks and
// computes only. Lint and client-side dry runs use exactly the checks the
// server runs; the server's context merely knows more applied resources.
import type { ManifestContext } from '../manifest/index.js'
import { StackRegistry } from '../stack/registry.js'
import { validateStackSpec } from '../stack/validate.js'
import { stackDefinitionFromBody } from '../stack/definition.js'
import { checkTemplate } from '../projection/check.js'

export function offlineManifestContext(stacks: StackRegistry = StackRegistry.builtin()): ManifestContext {
  return {
    resolveStack: (ref) => stacks.resolve(ref),
    stackVersions: (name) => stacks.versions(name),
    stackNames: () => [...new Set(stacks.list().map((s) => s.name))],
    validateStackSpec,
    checkTemplate,
    stackDefinitionFromBody,
  }
}
