// The Secret, ConfigMap and image pull Secrets of a step attempt, made before its Pod. They are shared by
// the attempts of a step: created, or replaced with this attempt's content. So that Kubernetes deletes them
// with the Pod at the cost of one extra request per Pod, not one per object, the first (the anchor) is owned
// by the Pod once it exists, and the others by the anchor (their creates say so).

import type { CoreV1Api, V1ConfigMap, V1OwnerReference, V1Pod, V1Secret } from '@kubernetes/client-node'
import type { CtlError } from '../../errors.js'
import { apiError, statusOf } from './retry.js'

type Ownable = V1Secret | V1ConfigMap

/** Create, replace and delete of one kind of namespaced object (the client library has a method per kind). */
interface ObjectCalls<T extends Ownable> {
  kind: 'Secret' | 'ConfigMap'
  what: string
  create(body: T): Promise<T>
  replace(name: string, body: T): Promise<T>
  remove(name: string): Promise<unknown>
}

function secretCalls(api: CoreV1Api, namespace: string, what: string): ObjectCalls<V1Secret> {
  return {
    kind: 'Secret',
    what,
    create: (body) => api.createNamespacedSecret({ namespace, body }),
    replace: (name, body) => api.replaceNamespacedSecret({ namespace, name, body }),
    remove: (name) => api.deleteNamespacedSecret({ namespace, name }),
  }
}

function configMapCalls(api: CoreV1Api, namespace: string): ObjectCalls<V1ConfigMap> {
  return {
    kind: 'ConfigMap',
    what: 'config map',
    create: (body) => api.createNamespacedConfigMap({ namespace, body }),
    replace: (name, body) => api.replaceNamespacedConfigMap({ namespace, name, body }),
    remove: (name) => api.deleteNamespacedConfigMap({ namespace, name }),
  }
}

/** Not a controller reference (nothing controls these objects); blockOwnerDeletion would need rights the runtime lacks. */
function ownerRef(kind: 'Pod' | 'Secret' | 'ConfigMap', obj: { metadata?: { name?: string; uid?: string } }): V1OwnerReference {
  return { apiVersion: 'v1', kind, name: obj.metadata?.name ?? '', uid: obj.metadata?.uid ?? '' }
}

export interface AttemptObjectBodies {
  secret?: V1Secret
  configMap?: V1ConfigMap
  pullSecrets: V1Secret[]
}

export interface AttemptObjectsContext {
  api: CoreV1Api
  namespace: string
  retry: <T>(fn: () => Promise<T>) => Promise<T>
  /** The error of a failed create (a missing namespace is worded for the user). */
  createError: (e: unknown, what: string) => CtlError
}

/** What start() does with the objects once it knows how the Pod fared. */
export interface AttemptObjects {
  /** Makes `pod` their owner. Throws when the cluster would not say so (nothing would ever remove them). */
  ownedBy(pod: V1Pod): Promise<void>
  /** Removes them (no Pod will own them), so that no projected value stays in the cluster. Never throws. */
  remove(): Promise<void>
}

/** Creates `body`, or replaces what an earlier attempt left under its name; the object as stored (with its uid). */
async function upsert<T extends Ownable>(ctx: AttemptObjectsContext, calls: ObjectCalls<T>, body: T): Promise<T> {
  const name = body.metadata!.name!
  const label = `${calls.what} ${ctx.namespace}/${name}`
  try {
    return await ctx.retry(() => calls.create(body))
  } catch (e) {
    if (statusOf(e) !== 409) throw ctx.createError(e, `creating ${label}`)
  }
  try {
    return await ctx.retry(() => calls.replace(name, body))
  } catch (e2) {
    // Deleted meanwhile with the Pod that owned it (the garbage collector): create it again.
    if (statusOf(e2) !== 404) throw apiError(`replacing ${label}`, e2)
    return await ctx.retry(() => calls.create(body)).catch((e3) => {
      throw apiError(`creating ${label}`, e3)
    })
  }
}

export async function createAttemptObjects(ctx: AttemptObjectsContext, bodies: AttemptObjectBodies): Promise<AttemptObjects> {
  const { api, namespace } = ctx
  const all: { calls: ObjectCalls<Ownable>; body: Ownable }[] = []
  if (bodies.secret) all.push({ calls: secretCalls(api, namespace, 'secret') as ObjectCalls<Ownable>, body: bodies.secret })
  if (bodies.configMap) all.push({ calls: configMapCalls(api, namespace) as ObjectCalls<Ownable>, body: bodies.configMap })
  for (const body of bodies.pullSecrets) all.push({ calls: secretCalls(api, namespace, 'image pull secret') as ObjectCalls<Ownable>, body })
  const first = all[0]
  if (!first) return { ownedBy: async () => {}, remove: async () => {} }

  const anchor = await upsert(ctx, first.calls, first.body)
  const anchorRef = ownerRef(first.calls.kind, anchor)
  for (const o of all.slice(1)) await upsert(ctx, o.calls, { ...o.body, metadata: { ...o.body.metadata, ownerReferences: [anchorRef] } })
  const name = first.body.metadata!.name!
  return {
    async ownedBy(pod) {
      try {
        await ctx.retry(() => first.calls.replace(name, { ...anchor, metadata: { ...anchor.metadata, ownerReferences: [ownerRef('Pod', pod)] } }))
      } catch (e) {
        throw apiError(`adding the owner reference of ${first.calls.what} ${namespace}/${name}`, e)
      }
    },
    async remove() {
      await ctx.retry(() => first.calls.remove(name)).catch(() => undefined)
    },
  }
}
