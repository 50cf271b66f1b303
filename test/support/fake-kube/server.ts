// HTTP front of the fake: routing for /api/v1, watches, pods/log, fault injection and the request log.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { LogBook, LogLine } from './logs.js'
import { parseRfc3339 } from './logs.js'
import { KINDS, matchesFields, matchesLabels, type ObjectStore } from './store.js'
import { KubeStatusError, badRequest, gone, statusObject } from './status.js'
import { mainContainer } from './kubelet.js'
import type { FailNextOptions, KubeObject, RequestRecord, ResourceName, ValidationFailure } from './types.js'
import { validateObject } from './validate.js'

interface Stream { res: ServerResponse; bookmarks: boolean; resource: ResourceName }

interface Injected { remaining: number; status: 429 | 500; opts: FailNextOptions }

const RESOURCES = new Set(Object.keys(KINDS))

export class FakeKubeHandler {
  readonly requests: RequestRecord[] = []
  readonly validationFailures: ValidationFailure[] = []
  validatedCount = 0
  readonly watches = new Set<Stream>()
  /** Called whenever a watch opens or closes (for waitForWatches). */
  readonly watchListeners = new Set<() => void>()
  readonly logStreams = new Set<ServerResponse>()
  private readonly injected: Injected[] = []

  constructor(
    private readonly store: ObjectStore,
    private readonly logs: LogBook,
    private readonly token: string,
  ) {}

  failNext(n: number, status: 429 | 500, opts: FailNextOptions = {}): void {
    this.injected.push({ remaining: n, status, opts })
  }

  clearFailures(): void {
    this.injected.length = 0
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    const path = url.pathname
    const q = url.searchParams
    const kind: RequestRecord['kind'] = q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : path.endsWith('/log') ? 'log' : 'request'
    const record: RequestRecord = { method, path, query: url.search.slice(1), status: 0, kind }
    this.requests.push(record)
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = code
      res.writeHead(code, { 'Content-Type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    }
    const fail = (err: unknown): void => {
      if (err instanceof KubeStatusError) send(err.code, err.toStatus())
      else send(500, statusObject(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`))
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      send(401, statusObject(401, 'Unauthorized', 'Unauthorized'))
      return
    }
    const inj = this.injected.find((i) => i.remaining > 0 && (!i.opts.match || i.opts.match(method, path)))
    if (inj?.opts.afterApplying) {
      inj.remaining -= 1
      const lost = (): void => send(500, statusObject(500, 'InternalError', 'Internal error occurred: answer lost (injected by the fake)'))
      readBody(req).then((raw) => {
        try {
          this.route(method, path, q, raw, res, { ...record }, () => lost())
        } catch {
          lost()
        }
      }, () => lost())
      return
    }
    if (inj) {
      inj.remaining -= 1
      if (inj.status === 429) {
        const secs = inj.opts.retryAfterSeconds ?? 1
        send(429, { ...statusObject(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later'), details: { retryAfterSeconds: secs } }, { 'Retry-After': String(secs) })
      } else {
        send(500, statusObject(500, 'InternalError', 'Internal error occurred: injected by the fake'))
      }
      req.resume()
      return
    }
    readBody(req).then((raw) => {
      try {
        this.route(method, path, q, raw, res, record, send)
      } catch (err) {
        fail(err)
      }
    }, fail)
  }

  private route(
    method: string, path: string, q: URLSearchParams, raw: string, res: ServerResponse, record: RequestRecord,
    send: (code: number, body: unknown) => void,
  ): void {
    if (path === '/version') return send(200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake', platform: 'linux/amd64' })
    const parts = path.replace(/^\/api\/v1\/?/, '').split('/').filter(Boolean).map(decodeURIComponent)
    if (!path.startsWith('/api/v1')) throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource`)
    let resource: string | undefined
    let ns: string | undefined
    let name: string | undefined
    let sub: string | undefined
    if (parts[0] === 'namespaces' && parts.length >= 3) {
      ;[, ns, resource, name, sub] = parts
    } else {
      ;[resource, name, sub] = parts
      if (resource !== 'namespaces' && name !== undefined) resource = undefined // only namespaces are cluster-scoped objects
    }
    if (!resource || !RESOURCES.has(resource) || parts.length > 5) {
      throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource`)
    }
    const r = resource as ResourceName
    const clusterScoped = r === 'namespaces'
    if (sub !== undefined) {
      if (r === 'pods' && sub === 'log' && method === 'GET') return this.podLog(ns!, name!, q, res, record)
      throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource`)
    }
    if (name === undefined) {
      const isWatch = q.get('watch') === 'true' || q.get('watch') === '1'
      if (method === 'GET' && isWatch) return this.watch(r, ns, q, res, record)
      if (method === 'GET') {
        const items = this.store.list(r, ns, q.get('labelSelector') ?? undefined, q.get('fieldSelector') ?? undefined)
        return send(200, { kind: `${KINDS[r]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(this.store.resourceVersion) }, items })
      }
      if (method === 'POST' && (clusterScoped || ns !== undefined)) {
        const body = this.validBody(r, ns, raw)
        if (!clusterScoped) this.requireNamespace(ns!)
        return send(201, this.store.create(r, clusterScoped ? undefined : ns, body))
      }
    } else {
      const scope = clusterScoped ? undefined : ns
      if (method === 'GET') return send(200, this.store.mustGet(r, scope, name))
      if (method === 'PUT') {
        const body = this.validBody(r, ns, raw)
        const cur = this.store.mustGet(r, scope, name)
        const sentRv = body.metadata?.resourceVersion
        if (sentRv && sentRv !== cur.metadata!.resourceVersion) {
          throw new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on ${r} "${name}": the object has been modified; please apply your changes to the latest version and try again`)
        }
        return send(200, this.store.update(r, scope, { ...body, metadata: { ...body.metadata, name } }))
      }
      if (method === 'DELETE') {
        const prev = this.store.delete(r, scope, name)
        // Pods and namespaces answer with the object; other kinds with a Success Status, as the API server does.
        if (r === 'pods' || r === 'namespaces') return send(200, prev)
        return send(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: r, uid: prev.metadata?.uid } })
      }
    }
    throw new KubeStatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`)
  }

  private requireNamespace(ns: string): void {
    if (this.requireNs && !this.store.get('namespaces', undefined, ns)) {
      throw new KubeStatusError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' })
    }
  }

  requireNs = true

  private validBody(r: ResourceName, ns: string | undefined, raw: string): KubeObject {
    let body: KubeObject
    try {
      body = JSON.parse(raw) as KubeObject
    } catch {
      throw badRequest('the request body is not valid JSON')
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be an object')
    const messages = validateObject(r, body)
    const name = body.metadata?.name ?? body.metadata?.generateName
    if (messages.length > 0) {
      this.validationFailures.push({ resource: r, namespace: ns, name, messages, object: body })
      throw new KubeStatusError(422, 'Invalid', `${KINDS[r]} "${name ?? ''}" is invalid: ${messages.join('; ')}`, {
        name, kind: KINDS[r], causes: messages.map((m) => ({ reason: 'FieldValueInvalid', message: m, field: m.split(':')[0] })),
      })
    }
    this.validatedCount += 1
    return body
  }

  private watch(r: ResourceName, ns: string | undefined, q: URLSearchParams, res: ServerResponse, record: RequestRecord): void {
    const labelSelector = q.get('labelSelector') ?? undefined
    const fieldSelector = q.get('fieldSelector') ?? undefined
    const rvParam = q.get('resourceVersion')
    record.status = 200
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
    res.flushHeaders()
    const write = (type: string, object: KubeObject): void => {
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify({ type, object }) + '\n')
    }
    const wanted = (entryResource: ResourceName, obj: KubeObject): boolean =>
      entryResource === r && (ns === undefined || obj.metadata?.namespace === ns) &&
      matchesLabels(obj, labelSelector) && matchesFields(obj, fieldSelector)
    if (!rvParam || rvParam === '0') {
      // "Any" version: synthetic ADDED for the current state, then live events (as the API server does).
      for (const o of this.store.list(r, ns, labelSelector, fieldSelector)) write('ADDED', o)
    } else {
      const n = Number(rvParam)
      const entries = Number.isFinite(n) ? this.store.since(n) : 'gone'
      if (entries === 'gone') {
        write('ERROR', gone(Number.isFinite(n) ? n : 0, this.store.resourceVersion).toStatus())
        res.end()
        return
      }
      for (const e of entries) if (wanted(e.resource, e.event.object)) write(e.event.type, e.event.object)
    }
    const stream: Stream = { res, bookmarks: q.get('allowWatchBookmarks') === 'true', resource: r }
    const unsubscribe = this.store.subscribe((e) => {
      if (wanted(e.resource, e.event.object)) write(e.event.type, e.event.object)
    })
    this.watches.add(stream)
    for (const l of this.watchListeners) l()
    const timeout = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
    const cleanup = (): void => {
      unsubscribe()
      if (timer) clearTimeout(timer)
      if (this.watches.delete(stream)) for (const l of this.watchListeners) l()
    }
    res.on('close', cleanup)
    res.on('finish', cleanup)
  }

  /** Sends a BOOKMARK with the current resourceVersion on watches that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.watches) {
      if (!w.bookmarks) continue
      const object = { kind: KINDS[w.resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.store.resourceVersion) } }
      w.res.write(JSON.stringify({ type: 'BOOKMARK', object }) + '\n')
    }
  }

  private podLog(ns: string, name: string, q: URLSearchParams, res: ServerResponse, record: RequestRecord): void {
    const pod = this.store.mustGet('pods', ns, name)
    const spec = pod.spec as { containers?: { name: string }[]; initContainers?: { name: string }[] }
    const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c) => c.name)
    let container = q.get('container') ?? ''
    if (!container) {
      if ((spec.containers ?? []).length > 1) {
        throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${(spec.containers ?? []).map((c) => c.name).join(' ')}]`)
      }
      container = mainContainer(pod)
    }
    if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`)
    const st = pod.status as { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } | undefined
    const cs = [...(st?.initContainerStatuses ?? []), ...(st?.containerStatuses ?? [])].find((c) => c.name === container)
    const waiting = !cs ? 'ContainerCreating' : cs.state?.waiting ? (cs.state.waiting.reason ?? 'ContainerCreating') : undefined
    if (waiting) throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${waiting}`)
    const uid = pod.metadata!.uid!
    const timestamps = q.get('timestamps') === 'true'
    const follow = q.get('follow') === 'true'
    let since: bigint | undefined
    const sinceTime = q.get('sinceTime')
    if (sinceTime) {
      since = parseRfc3339(sinceTime)
      if (since === undefined) throw badRequest(`sinceTime: invalid RFC3339 time "${sinceTime}"`)
    }
    const sinceSeconds = Number(q.get('sinceSeconds') ?? '0')
    if (sinceSeconds > 0) since = BigInt(Date.now() - sinceSeconds * 1000) * 1_000_000n
    let lines = this.logs.lines(uid, container).filter((l) => since === undefined || l.ns >= since)
    const tail = q.get('tailLines')
    if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail))
    const fmt = (l: LogLine): string => (timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`)
    record.status = 200
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.flushHeaders()
    for (const l of lines) res.write(fmt(l))
    if (!follow) {
      res.end()
      return
    }
    this.logStreams.add(res)
    const stop = this.logs.follow(uid, container, {
      onLine: (l) => { if (!res.writableEnded && !res.destroyed) res.write(fmt(l)) },
      onEnd: () => res.end(),
    })
    const cleanup = (): void => {
      stop()
      this.logStreams.delete(res)
    }
    res.on('close', cleanup)
    res.on('finish', cleanup)
  }
}

interface ContainerStatus { name: string; state?: { waiting?: { reason?: string } } }

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
