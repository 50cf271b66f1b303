// The one catalog of what a step may name: stacks and computes, built in, applied to the store, and those of
// the batch being applied or linted (a stack applied in the same request as the workflow that uses it).
// Lint (through the ManifestContext), apply, both dry runs and every step launch read it, so they agree on
// what exists and which version an unversioned reference resolves to.
import type { ComputeSpec, StackDefinition, StackRef } from '../manifest/model.js'
import type { CatalogView } from '../manifest/context.js'
import type { Store } from '../store/types.js'
import { StackRegistry } from './registry.js'
import { BUILTIN_COMPUTES } from './pod.js'

/** A resource of a batch as lint normalizes it (or a stored manifest): only `type: stack` and `type: compute` count. */
export interface CatalogResource {
  meta: { type: string; name: string }
  stack?: unknown
  compute?: unknown
}

function isStackDefinition(value: unknown): value is StackDefinition {
  if (!value || typeof value !== 'object') return false
  const v = value as Record<string, unknown>
  return typeof v.name === 'string' && typeof v.version === 'string' && typeof v.image === 'string'
}

export class Catalog {
  private constructor(readonly stacks: StackRegistry, readonly computes: Map<string, ComputeSpec>) {}

  /** The built-in stacks and computes, plus a batch's. */
  static builtin(batch: readonly CatalogResource[] = []): Catalog {
    return new Catalog(StackRegistry.builtin(), new Map(BUILTIN_COMPUTES)).addAll(batch)
  }

  /** The built-ins, every stack and compute applied to the store, then the batch's (which win over stored ones). */
  static async fromStore(store: Store, batch: readonly CatalogResource[] = []): Promise<Catalog> {
    const [stacks, computes] = await Promise.all([
      store.listResources({ workspace: null, type: 'stack' }),
      store.listResources({ workspace: null, type: 'compute' }),
    ])
    const catalog = Catalog.builtin()
    // Stored manifests are normalized resources: {meta, stack} / {meta, compute}.
    for (const r of [...stacks, ...computes]) catalog.add({ meta: { type: r.type, name: r.name }, ...(r.manifest as object) })
    return catalog.addAll(batch)
  }

  /** Adds a stack or compute resource (others are ignored); the same stack name and version replaces the earlier one. */
  add(resource: CatalogResource): this {
    if (resource.meta.type === 'stack' && isStackDefinition(resource.stack)) this.stacks.add(resource.stack)
    if (resource.meta.type === 'compute' && resource.compute && typeof resource.compute === 'object') this.computes.set(resource.meta.name, resource.compute as ComputeSpec)
    return this
  }

  addAll(resources: readonly CatalogResource[]): this {
    for (const r of resources) this.add(r)
    return this
  }

  /** A copy with a batch's stacks and computes added; this one is left as it is. */
  withBatch(resources: readonly CatalogResource[]): Catalog {
    return new Catalog(this.stacks.clone(), new Map(this.computes)).addAll(resources)
  }

  resolveStack(ref: StackRef): StackDefinition | undefined {
    return this.stacks.resolve(ref)
  }

  /**
   * What lint reads of the catalog (ManifestContext), the batch being linted included through withBatch.
   * `computes`: lint checks computes against it (a control plane knows them; offline, applied ones are unknown).
   */
  view(opts: { computes?: boolean } = {}): CatalogView {
    return {
      resolveStack: (ref) => this.stacks.resolve(ref),
      stackVersions: (name) => this.stacks.versions(name),
      stackNames: () => [...new Set(this.stacks.list().map((s) => s.name))],
      ...(opts.computes ? { knownComputes: new Set(this.computes.keys()) } : {}),
      withBatch: (resources) => this.withBatch(resources).view(opts),
    }
  }
}
