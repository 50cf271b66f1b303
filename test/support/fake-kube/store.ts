// In-memory object store: one resourceVersion counter across all objects, a bounded event history
// for watch resumption, watchers notified synchronously in resourceVersion order.
import { randomBytes, randomUUID } from 'node:crypto'
import { alreadyExists, badRequest, notFound } from './status.js'
import type { KubeObject, ResourceName, WatchEvent } from './types.js'

export const KINDS: Record<ResourceName, string> = {
  namespaces: 'Namespace', pods: 'Pod', secrets: 'Secret', configmaps: 'ConfigMap',
  persistentvolumeclaims: 'PersistentVolumeClaim', events: 'Event',
}

export interface HistoryEntry {
  rv: number
  resource: ResourceName
  namespace: string | undefined
  event: WatchEvent
}

export type Listener = (entry: HistoryEntry) => void

const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`

/** `a=b,c=d` (also `a==b`, `a!=b`, bare `a` for existence): enough for ctl's selectors. */
export function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true
  const labels = obj.metadata?.labels ?? {}
  for (const raw of selector.split(',')) {
    const term = raw.trim()
    if (!term) continue
    const ne = term.indexOf('!=')
    if (ne >= 0) {
      if (labels[term.slice(0, ne).trim()] === term.slice(ne + 2).trim()) return false
      continue
    }
    const eq = term.indexOf('=')
    if (eq < 0) {
      if (!(term in labels)) return false
      continue
    }
    const k = term.slice(0, eq).trim()
    const v = term.slice(term[eq + 1] === '=' ? eq + 2 : eq + 1).trim()
    if (labels[k] !== v) return false
  }
  return true
}

/** fieldSelector: equality on metadata.name / metadata.namespace (single-object watches) and on an Event's
    involvedObject.name / .uid / .kind (what `kubectl describe pod` asks for). */
export function matchesFields(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true
  const involved = (obj as { involvedObject?: Record<string, unknown> }).involvedObject
  for (const term of selector.split(',')) {
    const [k, v] = term.split('=').map((s) => s.trim())
    if (!k) continue
    const actual =
      k === 'metadata.name' ? obj.metadata?.name
      : k === 'metadata.namespace' ? obj.metadata?.namespace
      : k.startsWith('involvedObject.') ? involved?.[k.slice('involvedObject.'.length)]
      : undefined
    if (actual !== v) return false
  }
  return true
}

const clone = <T>(v: T): T => structuredClone(v)

/** A Secret's `stringData` is write-only, as on the API server: merged into `data` (base64), never returned. */
function storedForm(resource: ResourceName, obj: KubeObject): KubeObject {
  if (resource !== 'secrets' || !obj.stringData || typeof obj.stringData !== 'object') return obj
  const data = { ...((obj.data as Record<string, string> | undefined) ?? {}) }
  for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) data[k] = Buffer.from(String(v), 'utf8').toString('base64')
  delete obj.stringData
  return { ...obj, data }
}

export class ObjectStore {
  private rv = 0
  /** Highest resourceVersion no longer in history: watches from below it get 410. */
  private compactedRv = 0
  private readonly objects = new Map<ResourceName, Map<string, KubeObject>>()
  private readonly history: HistoryEntry[] = []
  private readonly listeners = new Set<Listener>()

  constructor(private readonly historyLimit: number) {
    for (const r of Object.keys(KINDS) as ResourceName[]) this.objects.set(r, new Map())
  }

  get resourceVersion(): number { return this.rv }
  get oldestResumableVersion(): number { return this.compactedRv }

  subscribe(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  get(resource: ResourceName, ns: string | undefined, name: string): KubeObject | undefined {
    const o = this.objects.get(resource)!.get(keyOf(ns, name))
    return o && clone(o)
  }

  mustGet(resource: ResourceName, ns: string | undefined, name: string): KubeObject {
    const o = this.get(resource, ns, name)
    if (!o) throw notFound(resource, name)
    return o
  }

  list(resource: ResourceName, ns?: string, labelSelector?: string, fieldSelector?: string): KubeObject[] {
    const out: KubeObject[] = []
    for (const o of this.objects.get(resource)!.values()) {
      if (ns !== undefined && o.metadata?.namespace !== ns) continue
      if (matchesLabels(o, labelSelector) && matchesFields(o, fieldSelector)) out.push(clone(o))
    }
    return out
  }

  create(resource: ResourceName, ns: string | undefined, body: KubeObject): KubeObject {
    const obj = storedForm(resource, clone(body))
    const meta = (obj.metadata ??= {})
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomBytes(3).toString('hex').slice(0, 5)
    if (!meta.name) throw badRequest('name or generateName is required')
    if (ns !== undefined) {
      if (meta.namespace && meta.namespace !== ns) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
      }
      meta.namespace = ns
    }
    const map = this.objects.get(resource)!
    const key = keyOf(ns, meta.name)
    if (map.has(key)) throw alreadyExists(resource, meta.name)
    obj.apiVersion = 'v1'
    obj.kind = KINDS[resource]
    meta.uid = randomUUID()
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    if (resource === 'pods') obj.status = { phase: 'Pending', qosClass: 'BestEffort', ...(obj.status as object | undefined) }
    if (resource === 'namespaces') obj.status = { phase: 'Active' }
    if (resource === 'persistentvolumeclaims') obj.status = { phase: 'Bound' }
    return this.commit(resource, 'ADDED', obj)
  }

  /** Replace an object (PUT, or kubelet status writes). */
  update(resource: ResourceName, ns: string | undefined, obj: KubeObject): KubeObject {
    const name = obj.metadata?.name ?? ''
    const prev = this.objects.get(resource)!.get(keyOf(ns, name))
    if (!prev) throw notFound(resource, name)
    const next = storedForm(resource, clone(obj))
    next.apiVersion = 'v1'
    next.kind = KINDS[resource]
    next.metadata = { ...next.metadata, uid: prev.metadata!.uid, creationTimestamp: prev.metadata!.creationTimestamp, namespace: ns }
    return this.commit(resource, 'MODIFIED', next)
  }

  /** Delete, cascading to dependents whose ownerReferences name this object's uid (the GC's job). */
  delete(resource: ResourceName, ns: string | undefined, name: string): KubeObject {
    const map = this.objects.get(resource)!
    const prev = map.get(keyOf(ns, name))
    if (!prev) throw notFound(resource, name)
    map.delete(keyOf(ns, name))
    const gone = this.commit(resource, 'DELETED', clone(prev), false)
    const uid = prev.metadata?.uid
    for (const [r, m] of this.objects) {
      for (const o of [...m.values()]) {
        if (o.metadata?.ownerReferences?.some((ref) => ref.uid === uid)) this.delete(r, o.metadata.namespace, o.metadata.name!)
      }
    }
    if (resource === 'namespaces') {
      for (const [r, m] of this.objects) {
        for (const o of [...m.values()]) if (o.metadata?.namespace === name && r !== 'namespaces') this.delete(r, name, o.metadata.name!)
      }
    }
    return gone
  }

  /** Entries after `rv` for a resource, or 'gone' when history no longer reaches back that far. */
  since(rv: number): HistoryEntry[] | 'gone' {
    if (rv < this.compactedRv) return 'gone'
    return this.history.filter((e) => e.rv > rv)
  }

  /** Forget all history (as etcd compaction does): every watch from an older version gets 410. */
  compact(): void {
    this.compactedRv = this.rv
    this.history.length = 0
  }

  private commit(resource: ResourceName, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject, store = true): KubeObject {
    this.rv += 1
    obj.metadata!.resourceVersion = String(this.rv)
    const ns = obj.metadata!.namespace
    if (store) this.objects.get(resource)!.set(keyOf(ns, obj.metadata!.name!), obj)
    const entry: HistoryEntry = { rv: this.rv, resource, namespace: ns, event: { type, object: clone(obj) } }
    this.history.push(entry)
    while (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()!.rv
    for (const l of this.listeners) l(entry)
    return clone(obj)
  }
}
