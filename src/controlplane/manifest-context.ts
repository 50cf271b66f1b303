// The ManifestContext the server lints with: built-in stacks and computes plus every
// `type: stack` / `type: compute` applied to the store. Stacks and computes applied
// earlier in the same request are added as the request is linted.
import type { ManifestContext, ManifestLimitSettings } from '../manifest/index.js'
import type { ResourceMeta, StackDefinition, StackRef } from '../manifest/model.js'
import type { Store } from '../store/types.js'
import { StackRegistry } from '../stack/registry.js'
import { stackDefinitionFromBody } from '../stack/definition.js'
import { validateStackSpec } from '../stack/validate.js'
import { BUILTIN_COMPUTES } from '../stack/pod.js'
import { checkTemplate, type TemplateScope } from '../projection/check.js'

export interface ServerManifestContext extends ManifestContext {
  knownComputes: ReadonlySet<string>
  /** Makes a stack linted earlier in this request resolvable for the documents after it. */
  addStack(def: StackDefinition): void
  addCompute(name: string): void
}

function isStackDefinition(value: unknown): value is StackDefinition {
  if (!value || typeof value !== 'object') return false
  const v = value as Record<string, unknown>
  return typeof v.name === 'string' && typeof v.version === 'string' && typeof v.image === 'string'
}

export async function buildManifestContext(store: Store, limits?: ManifestLimitSettings): Promise<ServerManifestContext> {
  const registry = StackRegistry.builtin().clone()
  const computes = new Set<string>(BUILTIN_COMPUTES.keys())
  const [stacks, applied] = await Promise.all([
    store.listResources({ workspace: null, type: 'stack' }),
    store.listResources({ workspace: null, type: 'compute' }),
  ])
  for (const record of stacks) {
    // The stored manifest is a normalized StackResource: {meta, stack: StackDefinition}.
    const def = (record.manifest as { stack?: unknown } | undefined)?.stack
    if (isStackDefinition(def)) registry.add(def)
  }
  for (const record of applied) computes.add(record.name)
  return {
    resolveStack: (ref: StackRef) => registry.resolve(ref),
    stackVersions: (name: string) => registry.versions(name),
    stackNames: () => [...new Set(registry.list().map((s) => s.name))],
    validateStackSpec: (stack: StackDefinition, stackSpec: unknown) => validateStackSpec(stack, stackSpec),
    checkTemplate: (template: string, aliases: ReadonlySet<string>, scope?: TemplateScope) => checkTemplate(template, aliases, scope),
    stackDefinitionFromBody: (meta: ResourceMeta, body: Record<string, unknown>) => stackDefinitionFromBody(meta, body),
    knownComputes: computes,
    ...(limits ? { limits } : {}),
    addStack: (def: StackDefinition) => registry.add(def),
    addCompute: (name: string) => {
      computes.add(name)
    },
  }
}

